"""Sample strategist questions covering every route."""

from __future__ import annotations

SAMPLE_QUESTIONS: list[str] = [
    "latest polls in Arizona this week",
    "Who is leading the Pennsylvania Senate race right now?",
    "What did the Georgia secretary of state announce today about early voting?",
    "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs: suburban women "
    "+4, independents -2, young men -7",
    "Analyze the turnout risks and compare two budget allocation scenarios for our field "
    "program in Maricopa and Pima",
    "Develop a plan to prioritize GOTV resources across 12 swing precincts and weigh the "
    "trade-offs of TV versus digital spend",
    "What are the main arguments for expanding early voting?",
    "Summarize our opponent's voting record on water rights",
    "Draft three talking points on the infrastructure bill for a town hall",
    "fix the spelling of this tweet: Vote for Smith, the canidate who delivers for Arizna",
    "proofread: our rally starts at 6pm on saturday at the the community center",
    "rephrase in one sentence: we will fight for every vote in every county",
]

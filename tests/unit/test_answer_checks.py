"""The pre-release checks on a local answer: each one, on the failures the routine set
showed (issue 19), and never on a usable answer written with the task."""

from __future__ import annotations

import pytest

from core.answer_checks import check_answer
from core.routine_kind import routine_kind
from evaluation.routine.tasks import load_tasks

TALLY = "Summarize in one line:\n\nVolunteers made 4,200 calls and reached 900 voters on Tuesday."


@pytest.mark.parametrize(
    ("query", "answer", "failed"),
    [
        # echo: the pasted text or the question handed back
        ("Rewrite this so it sounds friendlier:\n\nReport to the office at 9 a.m.",
         "Report to the office at 9 a.m.", "echo"),
        ("Fix the spelling:\n\nThank you for volunteering at the libary.",
         "Thank you for volunteering at the libary.", "echo"),
        ("Write a slogan for the library campaign.",
         "Write a slogan for the library campaign. Keep it open!", "echo"),
        # count: N items asked
        ("Write 5 subject lines inviting supporters to a town hall on public safety.",
         "Dear supporters,\nJoin us at the town hall on public safety next week.", "count"),
        ("Suggest 3 hashtags for our voter registration drive.", "#RegisterToVote #Vote", "count"),
        # length: a limit stated
        ("Cut this to under 10 words:\n\nJoin our picnic on June 14 at Riverside Park.",
         "Please join each and every one of us at the very special picnic that we hold "
         "on June 14 at Riverside Park.", "length"),
        ("Three slogans for a school board candidate, one per line, under 5 words each.",
         "Strong schools\nEvery child in every classroom matters to us all\nVote Ana", "length"),
        ("Shorten this reminder to fit a 40-character SMS:\n\nPhone bank tonight at 6.",
         "Reminder: our phone bank is tonight at 6 at the Oak Street office!", "length"),
        (TALLY, "Volunteers made 4,200 calls.\nThey reached 900 voters on Tuesday.", "length"),
        # language asked, or the question's own
        ("Translate into Spanish:\n\nVote early at your local library.",
         "El votado en la ciudad earlier at your local library es el que esta", "language"),
        ("Translate into Spanish:\n\nVote early at your local library.",
         "Vote early at the library near your home today.", "language"),
        ("Escribe un recordatorio breve para el banco de llamadas de mañana.",
         "Reminder: the phone bank is tomorrow, please come and help us call voters.",
         "language"),
        # grounded: numbers, dates and names not in the question
        (TALLY, "Volunteers made 4,200 calls and reached 9,000 voters.", "grounded"),
        ("Turn these notes into 2 bullet points:\n\nDoors on Saturday. Calls on Monday.",
         "Doors on Saturday, 20th March, 2023\nCalls on Monday at 18:45", "grounded"),
        ("Proofread:\n\nThank you to everyone at the libary.",
         "Thank you to everyone at the Library of Congress 2023.", "grounded"),
        # label: one of the labels offered
        ("Positive, negative or neutral?\n\nThird mailer this week, stop.",
         "Positive: proud team.\nNegative: they failed before.", "label"),
        ("¿Positivo, negativo o neutro?\n\nDejen de molestarme.",
         "Ya tres llamadas hoy.", "label"),
        # number: a count answered without one
        ("How many times is 'housing' listed?\n\nhousing, transit, housing",
         "Housing is the top issue.", "number"),
        # edited: a fix that is another text
        ("Put this headline in title case:\n\ncounty expands early voting hours",
         "Senior Citizens Campaign\nThis headline is a critical part of our strategy.", "edited"),
        # off task: the model talking about itself
        ("Politely decline a vendor's offer of paid robocalls.",
         "I'm sorry for any confusion, but as an analyst I specialize in data.", "off_task"),
        # degenerate
        ("Write a slogan for the library campaign.",
         "Keep it open\nKeep it open\nKeep it open", "degenerate"),
        ("Write a slogan for the library campaign.", "   ", "empty"),
    ],
)  # fmt: skip
def test_each_check_catches_its_failure(query: str, answer: str, failed: str) -> None:
    names = [f.check for f in check_answer(query, answer, routine_kind(query))]
    assert failed in names


@pytest.mark.parametrize(
    ("query", "answer"),
    [
        ("Fix the spelling:\n\nThank you for volunteering at the libary on Saturday.",
         "Here is the corrected text:\nThank you for volunteering at the library on Saturday."),
        ("Translate into Spanish:\n\nVote early at your local library.",
         "Vota temprano en tu biblioteca local."),
        ("Suggest 3 hashtags for our voter registration drive.",
         "#RegisterToVote #VoteLincoln #YourVoice"),
        ("Make this schedule into a list with one line per item:\n\nKickoff at 9, lunch at 1:30.",
         "9:00 Kickoff\n1:30 Lunch"),
        ("Count how many times 'jobs' appears:\n\njobs, jobs and more jobs", "3"),
        (TALLY, "4,200 calls made and 900 voters reached on Tuesday."),
        ("Positive, negative or neutral?\n\nGreat rally!", "Positive"),
    ],
)  # fmt: skip
def test_a_usable_answer_passes(query: str, answer: str) -> None:
    assert check_answer(query, answer, routine_kind(query)) == []


@pytest.mark.parametrize(("split", "most"), [("dev", 0), ("test", 2)])
def test_the_routine_set_s_own_reference_answers_pass(split: str, most: int) -> None:
    """A reference answer is usable by construction: a check that fails one would escalate
    a good local answer (measured: 0 of 172 on dev, 2 of 171 on test)."""
    flagged = [
        task.id
        for task in load_tasks(split)
        if task.check.reference
        and check_answer(task.query, task.check.reference, routine_kind(task.query))
    ]
    assert len(flagged) <= most, flagged

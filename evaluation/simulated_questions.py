"""The simulated set's questions, and what the emulator is told about them.

`items(n)` draws `n` distinct questions over the tiers (in `TIER_SHARES`), each with
the classification of its tier and the classifier's own route for it, restricted to
the hosted providers; `ACCURACY` is each model's accuracy per tier that the emulator
grades with (assumed figures, not measured). evaluation/confidence_simulated.py asks
them and scores the answers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from providers.catalogue import GEMINI_FLASH, GEMINI_PRO, SONAR, SONAR_PRO
from schemas.parts import Classification, RouteStep, Tier
from schemas.query import QueryOptions, QueryRequested

SEED = 20_260_601
TIER_SHARES: dict[Tier, float] = {"simple": 0.25, "standard": 0.35, "complex": 0.2, "live": 0.2}
ACCURACY: dict[str, dict[str, float]] = {
    GEMINI_FLASH: {"simple": 0.92, "standard": 0.78, "complex": 0.55, "live": 0.45},
    GEMINI_PRO: {"simple": 0.95, "standard": 0.9, "complex": 0.84, "live": 0.5},
    SONAR: {"simple": 0.88, "standard": 0.82, "complex": 0.6, "live": 0.86},
    SONAR_PRO: {"simple": 0.9, "standard": 0.86, "complex": 0.8, "live": 0.9},
}
"""What the emulator is told: each model's accuracy per tier (assumed, not measured)."""
ANALYSIS_TYPE: dict[Tier, str] = {
    "simple": "editing",
    "standard": "messaging",
    "complex": "strategy",
    "live": "polling",
}
QUESTIONS: dict[Tier, tuple[str, ...]] = {
    "simple": (
        "Fix the spelling in this volunteer email draft",
        "Shorten this press release opening to two sentences",
        "Turn these canvassing notes into a bulleted list",
    ),
    "standard": (
        "Draft three talking points on school funding for a town hall",
        "Suggest a message for suburban parents about public safety",
        "Write a short fundraising appeal for small donors",
    ),
    "complex": (
        "Compare a persuasion strategy and a turnout strategy for the final month, with trade-offs",
        "Plan a three-phase budget allocation across digital, mail and field with scenarios",
        "Assess which coalition segments to prioritise given mixed polling crosstabs",
    ),
    "live": (
        "What do this week's polls say about the Senate race",
        "Summarise the latest news coverage of the governor's debate",
        "What are the newest early-vote numbers in the county",
    ),
}


@dataclass(frozen=True)
class Item:
    """One question of the set: its tier, the query, its classification and route."""

    index: int
    tier: Tier
    query: QueryRequested
    classification: Classification
    route: list[RouteStep]


def items(n: int, seed: int = SEED) -> list[Item]:
    """`n` distinct questions over the tiers, each with the classifier's route for its tier
    (hosted providers only)."""
    from services.classifier.model_route import build_route

    rng = random.Random(seed)
    tiers: list[Tier] = list(TIER_SHARES)
    weights = [TIER_SHARES[t] for t in tiers]
    options = QueryOptions(providers=["gemini", "perplexity"])
    out = []
    for i in range(n):
        tier = rng.choices(tiers, weights)[0]
        text = f"{rng.choice(QUESTIONS[tier])} (case {i})"
        classification = Classification(
            complexity={"simple": 0.1, "standard": 0.4, "complex": 0.8, "live": 0.4}[tier],
            needs_live_data=tier == "live",
            analysis_type=ANALYSIS_TYPE[tier],
            cost_sensitive=tier == "simple",
            tier=tier,
        )
        query = QueryRequested(
            query_id=f"sim-{i}", query=text, analysis_type=ANALYSIS_TYPE[tier], options=options
        )
        out.append(Item(i, tier, query, classification, build_route(classification, options)))
    return out

"""What an answer would have cost without routing: the all-Gemini-2.5-Pro baseline.

The saving the story promises (40 %) is measured against sending every question to
the strongest model. Per answer, the baseline is an *estimate*: the same input
tokens and the output tokens this answer actually produced, priced at Gemini 2.5
Pro's list price from the catalogue. (A real Pro answer would differ in length and
would also bill its thinking tokens, so the estimate is, if anything, low.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core.attempt import attempt_model
from providers.base import Provider
from providers.catalogue import GEMINI_PRO, Catalogue
from schemas.parts import Answer
from schemas.query import QueryRequested

MEASURE_TIMEOUT_S = 60.0
MEASURE_CONCURRENCY = 8

BASELINE_PROVIDER = "gemini"
BASELINE_MODEL = GEMINI_PRO


def baseline_cost_usd(catalogue: Catalogue, answer: Answer | None) -> float:
    """The estimated cost of `answer` on Gemini 2.5 Pro; 0 when there is no answer."""
    if answer is None:
        return 0.0
    spec = catalogue.get(BASELINE_PROVIDER, BASELINE_MODEL)
    return round(spec.cost_usd(answer.input_tokens, answer.output_tokens), 8)


async def measured_baseline_cost_usd(
    provider: Provider, catalogue: Catalogue, queries: Sequence[QueryRequested]
) -> tuple[float, int]:
    """Send every query to Gemini 2.5 Pro now and add up what it bills, thinking included.

    The per-answer estimate above cannot know how long Pro would have thought; this
    measures it (on the emulator, its realistic token usage; with a real key, real
    spend). Returns (total cost, queries Pro failed to answer).
    """
    spec = catalogue.get(BASELINE_PROVIDER, BASELINE_MODEL)
    gate = asyncio.Semaphore(MEASURE_CONCURRENCY)

    async def one(query: QueryRequested) -> float | None:
        async with gate:
            result = await attempt_model(
                provider=provider, spec=spec, query=query, timeout_s=MEASURE_TIMEOUT_S
            )
        return result.answer.cost_usd if result.answer is not None else None

    costs = await asyncio.gather(*(one(q) for q in queries))
    return sum(c for c in costs if c is not None), sum(c is None for c in costs)

"""What an answer would have cost without routing: the all-Gemini-2.5-Pro baseline.

The saving the story promises is measured against sending every question to the
strongest model. Per answer, `baseline_cost_usd` estimates what Gemini 2.5 Pro would
have billed for the same question (`ProBaseline`):

- input: the answering call's input tokens (the same prompt, as that provider counted it);
- output: the answer's output tokens scaled by how much longer Pro writes than the model
  that answered (`answer_ratio`, per model), plus the thinking tokens Pro bills at the
  output price (`mean_thoughts_tokens`), together at most Pro's output limit;
- Pro's list price from the catalogue, which has no per-request fee. Sonar's request fee
  is on the routed side only (the answer's own `cost_usd`); a live question is priced as
  Pro answering it without search grounding (what the measured baseline does too).

An answer Pro itself gave is priced from its own usage (thinking included). The
constants are measured (`python -m evaluation.baseline_agreement`, docs/routing.md):
on the emulator they reproduce its Pro; against the real APIs they must be measured
again with real keys, because real answer lengths and thinking differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.attempt import attempt_model
from providers.base import Provider
from providers.catalogue import GEMINI_FLASH, GEMINI_PRO, LOCAL_MODEL, SONAR, SONAR_PRO, Catalogue
from schemas.parts import Answer
from schemas.query import QueryRequested

MEASURE_TIMEOUT_S = 60.0
MEASURE_CONCURRENCY = 8

BASELINE_PROVIDER = "gemini"
BASELINE_MODEL = GEMINI_PRO
DEFAULT_ANSWER_RATIO = 1.0
"""A model with no measured ratio: Pro is assumed to write as much (the saving errs low)."""


def model_ref(provider: str, model: str) -> str:
    """The key of a model in `ProBaseline.answer_ratio`: `provider/model`."""
    return f"{provider}/{model}"


@dataclass(frozen=True)
class ProBaseline:
    """What Gemini 2.5 Pro bills for a question, estimated from another model's answer.

    `answer_ratio[provider/model]`: Pro's answer tokens per output token of that model on
    the same questions (ratio of means). `mean_thoughts_tokens`: Pro's mean thinking
    tokens per answer (`thoughtsTokenCount`, billed as output).
    """

    answer_ratio: Mapping[str, float] = field(default_factory=dict)
    mean_thoughts_tokens: float = 0.0

    def output_tokens(self, answer: Answer, limit: int) -> int:
        """The output tokens Pro would bill (answer and thinking), at most `limit`."""
        ref = model_ref(answer.provider, answer.model)
        ratio = self.answer_ratio.get(ref, DEFAULT_ANSWER_RATIO)
        return min(round(answer.output_tokens * ratio + self.mean_thoughts_tokens), limit)


PRO_BASELINE = ProBaseline(
    answer_ratio={
        model_ref("gemini", GEMINI_FLASH): 1.96,
        model_ref("perplexity", SONAR): 2.27,
        model_ref("perplexity", SONAR_PRO): 1.16,
        model_ref("local", LOCAL_MODEL): 6.65,
    },
    mean_thoughts_tokens=438.0,
)
"""Measured on the emulator (see the module docstring and docs/routing.md for the figures
and the command); real Gemini 2.5 Pro's thinking must be measured again with a real key."""


def baseline_cost_usd(
    catalogue: Catalogue, answer: Answer | None, method: ProBaseline = PRO_BASELINE
) -> float:
    """The estimated cost of answering on Gemini 2.5 Pro; 0 when there is no answer."""
    if answer is None:
        return 0.0
    spec = catalogue.get(BASELINE_PROVIDER, BASELINE_MODEL)
    if (answer.provider, answer.model) == (BASELINE_PROVIDER, BASELINE_MODEL):
        return round(spec.cost_usd(answer.input_tokens, answer.output_tokens), 8)
    output = method.output_tokens(answer, spec.max_output_tokens)
    return round(spec.cost_usd(answer.input_tokens, output), 8)


async def measured_pro_answers(
    provider: Provider, catalogue: Catalogue, queries: Sequence[QueryRequested]
) -> list[Answer | None]:
    """Send every query to Gemini 2.5 Pro now: its answers in order (None where it failed).

    Each answer's `output_tokens` and `cost_usd` include the thinking tokens Pro billed
    (on the emulator, its realistic token usage; with a real key, real spend).
    """
    spec = catalogue.get(BASELINE_PROVIDER, BASELINE_MODEL)
    gate = asyncio.Semaphore(MEASURE_CONCURRENCY)

    async def one(query: QueryRequested) -> Answer | None:
        async with gate:
            result = await attempt_model(
                provider=provider, spec=spec, query=query, timeout_s=MEASURE_TIMEOUT_S
            )
        return result.answer

    return list(await asyncio.gather(*(one(q) for q in queries)))


async def measured_baseline_cost_usd(
    provider: Provider, catalogue: Catalogue, queries: Sequence[QueryRequested]
) -> tuple[float, int]:
    """What sending every query to Gemini 2.5 Pro costs now, thinking included: the
    measurement the per-answer estimate is checked against. Returns (total cost, queries
    Pro failed to answer)."""
    answers = await measured_pro_answers(provider, catalogue, queries)
    return sum(a.cost_usd for a in answers if a is not None), sum(a is None for a in answers)

"""What an answer would have cost without routing: the all-Gemini-2.5-Pro baseline.

The saving the story promises (40 %) is measured against sending every question to
the strongest model. Per answer, the baseline is an *estimate*: the same input
tokens and the output tokens this answer actually produced, priced at Gemini 2.5
Pro's list price from the catalogue. (A real Pro answer would differ in length and
would also bill its thinking tokens, so the estimate is, if anything, low.)
"""

from __future__ import annotations

from providers.catalogue import GEMINI_PRO, Catalogue
from schemas.completion import Answer

BASELINE_PROVIDER = "gemini"
BASELINE_MODEL = GEMINI_PRO


def baseline_cost_usd(catalogue: Catalogue, answer: Answer | None) -> float:
    """The estimated cost of `answer` on Gemini 2.5 Pro; 0 when there is no answer."""
    if answer is None:
        return 0.0
    spec = catalogue.get(BASELINE_PROVIDER, BASELINE_MODEL)
    return round(spec.cost_usd(answer.input_tokens, answer.output_tokens), 8)

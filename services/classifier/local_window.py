"""The local model's context window: which inputs fit it, and the rule that keeps the
others off the local model.

The classifier applies the rule when it decides the tier (`handler.classify`), and the
route applies it again after the caller's `prefer` has moved the tier (`model_route`):
`prefer=cost` can move a standard question down to the simple tier, and an input too long
for the window must not land on the local model that way either. Both read this module,
so the rule is written once.
"""

from __future__ import annotations

from typing import Final

from providers.catalogue import DEFAULT_CATALOGUE, LOCAL_MODEL
from schemas.parts import Classification, Tier

_LOCAL = DEFAULT_CATALOGUE.get("local", LOCAL_MODEL)
PROMPT_OVERHEAD_TOKENS: Final = 256
"""Chat template and system prompt around the question, generously."""
LOCAL_INPUT_TOKENS: Final = (
    _LOCAL.capabilities.context_window - _LOCAL.max_output_tokens - PROMPT_OVERHEAD_TOKENS
)
"""The input the local model can take with room for its answer (2048 - 96 - 256 here)."""
INPUT_TOKENS_FEATURE: Final = "input_tokens"
"""The classification feature holding the estimated tokens of query plus context
(`core.prompt.estimated_tokens`: a cautious estimate)."""


def too_long_for_local(input_tokens: float) -> bool:
    """Whether an input of about `input_tokens` tokens overflows the local model's window."""
    return input_tokens > LOCAL_INPUT_TOKENS


def keep_off_local(tier: Tier, input_tokens: float) -> Tier:
    """`tier`, except that an input too long for the local model's window never takes the
    simple tier (whose route starts on the local model): standard instead."""
    if tier == "simple" and too_long_for_local(input_tokens):
        return "standard"
    return tier


def classified_input_tokens(classification: Classification) -> float:
    """The estimated input tokens the classifier recorded (0 in events classified before
    it recorded them: their size is unknown, so they are assumed to fit)."""
    return classification.features.get(INPUT_TOKENS_FEATURE, 0.0)


def fits_local(classification: Classification) -> bool:
    """Whether query and context fit the local model's window (unknown size: assume so)."""
    return not too_long_for_local(classified_input_tokens(classification))

"""The money rules every paid call is booked by, apart from the books themselves.

What a call may cost at most (its reservation), whether a model costs anything, what a
finished call is booked at by its outcome, and what a refusal says. The ledger
(`services.common.spend`), one query's dealings with it (`services.common.campaign_spend`:
the dispatcher's walk and the app's direct path) and the scorer's cross-check all book by
these, so a call costs the same whichever path made it. Pure: no Redis here.

Amounts in the books are integers of micro-USD, rounded up, so the books never show less
than was spent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from providers.base import CompletionRequest
from providers.catalogue import ModelSpec

MICRO_USD = 1_000_000
CALL_INPUT_OVERHEAD_TOKENS = 64
"""Tokens a chat template adds around the system and user messages (role markers)."""
BUDGET_EXHAUSTED = "budget_exhausted"
"""The prefix of an error when the campaign's limit stopped a paid call (the app answers
402 Payment Required)."""


class Remaining(Protocol):
    """What a refusal needs of the books (`spend.CampaignUsage`)."""

    @property
    def remaining_usd(self) -> float | None: ...


def to_micro_usd(usd: float) -> int:
    """Rounded up: a reservation or a cost is never booked below what it is."""
    if usd < 0:
        raise ValueError(f"an amount of money cannot be negative: {usd}")
    return math.ceil(round(usd * MICRO_USD, 3))


def from_micro_usd(micro: int) -> float:
    return micro / MICRO_USD


def max_call_cost_usd(spec: ModelSpec, request: CompletionRequest) -> float:
    """The most one call can cost: every prompt byte a token (a BPE token covers at least
    one UTF-8 byte) plus the template's overhead, and the request's output cap."""
    text = request.prompt + (request.system or "") + request.prefix  # a prefill is input
    input_bound = len(text.encode()) + CALL_INPUT_OVERHEAD_TOKENS
    return spec.cost_usd(input_bound, request.max_output_tokens)


def is_paid_model(spec: ModelSpec) -> bool:
    """False for a free model (the local one): it reserves nothing."""
    p = spec.pricing
    return p.input_per_million_usd > 0 or p.output_per_million_usd > 0 or p.per_request_usd > 0


def settled_cost_usd(outcome: str, cost_usd: float, max_cost_usd: float) -> float:
    """What a finished call is booked at, by its outcome: a success at the cost the provider
    reported; a timeout at the reserved maximum (the provider may have done and billed the
    work, we cannot know how much, so the books assume the worst); an error or a skip at
    nothing (a provider does not bill a request it refused or failed)."""
    if outcome == "success":
        return cost_usd
    if outcome == "timeout":
        return max_cost_usd
    return 0.0


def refusal_text(provider: str, model: str, amount_usd: float, usage: Remaining) -> str:
    """Why one paid call was refused, for an error or an explanation."""
    return (
        f"{provider}/{model} needs up to ${amount_usd:.6f}, ${usage.remaining_usd or 0.0:.6f} left"
    )


def budget_exhausted_error(
    campaign_id: str, limit_usd: float | None, refusals: Sequence[str]
) -> str:
    """The error of a query the campaign's monthly limit stopped (starts `budget_exhausted`,
    which the app maps to 402)."""
    return (
        f"{BUDGET_EXHAUSTED}: campaign {campaign_id} has reached its monthly spend "
        f"limit of ${limit_usd or 0.0:.2f} ({'; '.join(refusals)})"
    )

"""What one walk along a route has found, and the completion it ends with.

The route walk (route_walk.py) fills a `WalkState` step by step: the summary of every
step (attempted or skipped), the finished-attempt events, the answer when one came, the
last error, and the largest context window that refused the input. When the walk ends
without an answer, `failure_error` says why in one line, most telling reason first: the
campaign's spend limit (`budget_exhausted`, the app's 402), no step that could be tried,
or the forced step's own error. `completion` turns the state into the event.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.attempt import ProviderAttempt
from schemas.classified import QueryClassified, RouteStep
from schemas.completion import Answer, AttemptSummary, CompletionProduced
from services.common.campaign_spend import CampaignSpend
from services.dispatcher.delivered import Delivered


@dataclass
class WalkState:
    """One walk's running state."""

    summaries: list[AttemptSummary] = field(default_factory=list)
    finished: list[ProviderAttempt] = field(default_factory=list)
    answer: Answer | None = None
    error: str | None = None
    refused_window: int = 0
    """The largest context window that refused the input as too long (0: none did)."""
    delivered: Delivered | None = None
    """The text a caller reading live holds, for the next model to continue."""
    numbered_after: int = 0
    """Attempts an earlier delivery of the query numbered (after a crash): ours follow."""


def failure_error(
    walk: WalkState, spend: CampaignSpend, route: Sequence[RouteStep], forced: int | None
) -> str | None:
    """The completion's error (None once an answer came): the spend limit's refusals first,
    then "nothing could be tried" with the skips' reasons, then the forced step's error."""
    error = walk.error
    if walk.answer is not None:
        return error
    if spend.refusals:
        return spend.exhausted_error(error)
    if error is None:
        reasons = dict.fromkeys(s.error_message for s in walk.summaries if s.error_message)
        error = "no provider in the route could be tried"
        if reasons:
            error += ": " + "; ".join(reasons)
        return error
    if forced is not None:
        step = route[forced]
        return (
            f"every step of the route is unavailable; tried {step.provider}/{step.model} "
            f"anyway: {error}"
        )
    return error


def completion(
    classified: QueryClassified,
    summaries: list[AttemptSummary],
    answer: Answer | None,
    error: str | None,
    started: float,
    *,
    route: list[RouteStep] | None = None,
    budget_remaining_usd: float | None = None,
) -> CompletionProduced:
    """The completion event; `started` is the walk's `time.monotonic()` at its start."""
    return CompletionProduced(
        query=classified.query,
        classification=classified.classification,
        route=classified.route if route is None else route,
        budget_remaining_usd=budget_remaining_usd,
        status="succeeded" if answer else "failed",
        answer=answer,
        attempts=summaries,
        error=None if answer else error,
        dispatch_latency_ms=round((time.monotonic() - started) * 1000.0, 1),
    )

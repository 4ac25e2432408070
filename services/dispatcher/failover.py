"""What to do after a failed attempt, fault by fault: small pure decisions over the error tree.

    fault                                  decision
    429 with Retry-After that fits         wait as asked, retry the same model (bounded)
    429 without one, or too long           the fallback now
    5xx / refused or reset connection      retry the same model `max_retries_same_model`
                                           times (short backoff), then the fallback
    stream cut before its end              the fallback (the client buffered: invisible)
    first-token limit, stall, deadline     the fallback; never the same model again in
                                           this request (a silent upstream stays silent)
    context too long                       the fallback, skipping models whose window is
                                           not larger than the one that refused it
    content filter / the caller's input    stop: the error is the answer (`fails_over`)
    anything else a provider refuses       the fallback

Decided through the tree (`fails_over`, the classes a client raises), never by an exact
type, so a new subclass inherits its parent's handling.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from providers.errors import (
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    StreamTruncated,
)

MAX_RATE_LIMIT_RETRIES = 2
"""429s with a short Retry-After waited out per step; the next one moves to the fallback."""
SAME_MODEL_RETRY_BACKOFF_S = 0.2
"""Pause before calling a model again after a 5xx or a reset (jitter added by the caller)."""


class Next(Enum):
    RETRY_SAME = "retry_same"
    NEXT_PROVIDER = "next_provider"
    GIVE_UP = "give_up"


@dataclass(frozen=True)
class Decision:
    """What the walk does next; `wait_s` before a `RETRY_SAME`."""

    next: Next
    wait_s: float = 0.0


@dataclass(frozen=True)
class RetryBounds:
    """How often one step may call its model again (settings and the model's catalogue entry)."""

    same_model_retries: int = 1
    rate_limit_retries: int = MAX_RATE_LIMIT_RETRIES
    rate_limit_max_wait_s: float = 2.0
    backoff_s: float = SAME_MODEL_RETRY_BACKOFF_S


NEXT = Decision(Next.NEXT_PROVIDER)
GIVE_UP = Decision(Next.GIVE_UP)


def after_failure(
    error: ProviderError,
    *,
    rate_limited_before: int,
    failed_before: int,
    bounds: RetryBounds,
    spare_s: float,
    min_attempt_s: float,
) -> Decision:
    """The decision after `error` on one step (see the module table).

    `rate_limited_before` / `failed_before`: how many 429s and 5xx/resets this step has
    already retried; `spare_s`: what the step may still spend without squeezing the later
    steps; a retry must leave `min_attempt_s` for the call itself.
    """
    if not error.fails_over:
        return GIVE_UP
    if isinstance(error, RateLimited):
        if rate_limited_before >= bounds.rate_limit_retries:
            return NEXT
        wait_s = rate_limit_wait_s(
            error,
            max_wait_s=bounds.rate_limit_max_wait_s,
            spare_s=spare_s,
            min_attempt_s=min_attempt_s,
        )
        return NEXT if wait_s is None else Decision(Next.RETRY_SAME, wait_s)
    if isinstance(error, (ProviderTimeout, StreamTruncated)):
        return NEXT
    if isinstance(error, ProviderUnavailable):
        if failed_before >= bounds.same_model_retries:
            return NEXT
        if bounds.backoff_s + min_attempt_s > spare_s:
            return NEXT
        return Decision(Next.RETRY_SAME, bounds.backoff_s)
    return NEXT


def rate_limit_wait_s(
    error: ProviderError, *, max_wait_s: float, spare_s: float, min_attempt_s: float
) -> float | None:
    """Seconds to wait before calling the same model again, or None to move on now.

    Waits only for a rate limit that names its `Retry-After`, when the wait is at most
    `max_wait_s` and still leaves `min_attempt_s` for the retry out of `spare_s`.
    """
    if not isinstance(error, RateLimited) or error.retry_after_s is None:
        return None
    wait_s = max(error.retry_after_s, 0.0)
    if wait_s > max_wait_s or wait_s + min_attempt_s > spare_s:
        return None
    return wait_s


def context_too_small(refused_window: int, window: int) -> bool:
    """After a context-too-long refusal by a model with `refused_window` tokens (0: none),
    a later step whose window is no larger would refuse the same input: skip it rather
    than pay to hear it. The input is never resent unchanged to a model that refused it."""
    return refused_window > 0 and window <= refused_window


def counts_against_circuit(error: ProviderError) -> bool:
    """Failures that speak about the model's health (outages, timeouts, 5xx, cut streams),
    not about this request (its size, its content, its parameters)."""
    return error.retryable and not isinstance(error, RateLimited)

"""What to do after a failed attempt: two small pure decisions over the error tree.

- `after_failure`: move on to the next step of the route, or stop the route? Decided by
  `error.fails_over` (providers/errors.py), never by the error's exact type.
- `rate_limit_wait_s`: is a provider's `Retry-After` short enough, and does it fit the
  query's remaining budget, to wait it out and call the same model once more?
"""

from __future__ import annotations

from enum import Enum

from providers.errors import ProviderError, RateLimited


class Next(Enum):
    NEXT_PROVIDER = "next_provider"
    GIVE_UP = "give_up"


def after_failure(error: ProviderError) -> Next:
    """Fail over on everything another provider may accept; stop only on the caller's input.

    Timeouts, outages, rate limits, auth problems, a provider's refusal of a parameter,
    blocked content and context limits are all specific to one provider, so the next one
    may well answer. An `InvalidQuery` (the caller's own input) fails everywhere alike.
    """
    return Next.NEXT_PROVIDER if error.fails_over else Next.GIVE_UP


def rate_limit_wait_s(
    error: ProviderError,
    *,
    already_retried: bool,
    max_wait_s: float,
    spare_s: float,
    min_attempt_s: float,
) -> float | None:
    """Seconds to wait before calling the same model again, or None to move on now.

    Waits only for a rate limit that names its `Retry-After`, at most once per step, when
    the wait is at most `max_wait_s` and still leaves `min_attempt_s` for the retry out of
    `spare_s` (the budget this step may spend without squeezing the later steps).
    """
    if not isinstance(error, RateLimited) or error.retry_after_s is None or already_retried:
        return None
    wait_s = max(error.retry_after_s, 0.0)
    if wait_s > max_wait_s or wait_s + min_attempt_s > spare_s:
        return None
    return wait_s

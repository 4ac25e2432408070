"""The failover decisions: through the error tree, and when to wait out a Retry-After."""

from __future__ import annotations

import pytest

from providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    ContextTooLong,
    InvalidQuery,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from services.dispatcher.cooldowns import ProviderCooldowns
from services.dispatcher.failover import Next, after_failure, rate_limit_wait_s


class UnsupportedParameter(BadRequest):
    """A subclass a client might add: inherits "fails over" from the tree."""


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ProviderTimeout("gemini", "t"), Next.NEXT_PROVIDER),
        (ProviderUnavailable("gemini", "503"), Next.NEXT_PROVIDER),
        (RateLimited("perplexity", "429", 1.0), Next.NEXT_PROVIDER),
        (AuthenticationFailed("gemini", "401"), Next.NEXT_PROVIDER),
        (ContextTooLong("local", "too long"), Next.NEXT_PROVIDER),
        (ContentBlocked("gemini", "safety"), Next.NEXT_PROVIDER),
        (ModelNotFound("perplexity", "404 unknown model"), Next.NEXT_PROVIDER),
        (BadRequest("gemini", "400 unsupported parameter"), Next.NEXT_PROVIDER),
        (UnsupportedParameter("gemini", "thinking_budget"), Next.NEXT_PROVIDER),
        (InvalidQuery("any", "the question is blank"), Next.GIVE_UP),
    ],
)
def test_failover_table(error: ProviderError, expected: Next) -> None:
    assert after_failure(error) is expected


LIMITED = RateLimited("gemini", "429", retry_after_s=1.0)


@pytest.mark.parametrize(
    ("error", "retried", "max_wait", "spare", "expected"),
    [
        (LIMITED, False, 2.0, 10.0, 1.0),  # short and fits: wait it out
        (LIMITED, True, 2.0, 10.0, None),  # only once per step
        (LIMITED, False, 0.5, 10.0, None),  # longer than we wait: fall back now
        (LIMITED, False, 2.0, 1.2, None),  # the wait would leave no time for the retry
        (RateLimited("gemini", "429"), False, 2.0, 10.0, None),  # no Retry-After given
        (ProviderUnavailable("gemini", "503"), False, 2.0, 10.0, None),
        (RateLimited("gemini", "429", retry_after_s=0.0), False, 2.0, 10.0, 0.0),
    ],
)
def test_rate_limit_wait_table(error, retried, max_wait, spare, expected) -> None:
    wait = rate_limit_wait_s(
        error, already_retried=retried, max_wait_s=max_wait, spare_s=spare, min_attempt_s=0.5
    )
    assert wait == expected


def test_cooldowns_expire_and_a_later_end_wins() -> None:
    now = [100.0]
    cooldowns = ProviderCooldowns(clock=lambda: now[0])
    assert cooldowns.remaining_s("gemini") == 0.0
    cooldowns.start("gemini", 5.0)
    cooldowns.start("gemini", 1.0)  # an earlier end does not shorten it
    now[0] += 2.0
    assert cooldowns.remaining_s("gemini") == pytest.approx(3.0)
    assert cooldowns.remaining_s("perplexity") == 0.0
    now[0] += 3.5
    assert cooldowns.remaining_s("gemini") == 0.0

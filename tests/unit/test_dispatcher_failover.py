"""The failover decisions, fault by fault: a table over the error tree, and the circuit."""

from __future__ import annotations

import pytest

from providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    ContextTooLong,
    FirstTokenTimeout,
    InvalidQuery,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    ServerError,
    StreamStalled,
    StreamTruncated,
)
from services.dispatcher.circuits import Admission, CircuitBoard
from services.dispatcher.cooldowns import ProviderCooldowns
from services.dispatcher.failover import (
    Decision,
    Next,
    RetryBounds,
    after_failure,
    context_too_small,
    counts_against_circuit,
    rate_limit_wait_s,
)


class UnsupportedParameter(BadRequest):
    """A subclass a client might add: inherits "fails over" from the tree."""


BOUNDS = RetryBounds(same_model_retries=1, rate_limit_retries=2, rate_limit_max_wait_s=2.0,
                     backoff_s=0.2)
NEXT = Decision(Next.NEXT_PROVIDER)
GIVE_UP = Decision(Next.GIVE_UP)
LIMITED = RateLimited("gemini", "429", retry_after_s=1.0)


@pytest.mark.parametrize(
    ("error", "rate_limited_before", "failed_before", "spare_s", "expected"),
    [
        # 429 with a Retry-After that fits: wait as asked, same model; bounded
        (LIMITED, 0, 0, 10.0, Decision(Next.RETRY_SAME, 1.0)),
        (LIMITED, 1, 0, 10.0, Decision(Next.RETRY_SAME, 1.0)),
        (LIMITED, 2, 0, 10.0, NEXT),
        (LIMITED, 0, 0, 1.2, NEXT),  # the wait would leave no time for the retry
        (RateLimited("gemini", "429", retry_after_s=5.0), 0, 0, 10.0, NEXT),  # too long
        (RateLimited("gemini", "429"), 0, 0, 10.0, NEXT),  # no Retry-After given
        # 500 once / 503 or reset every time: one more try, then the fallback
        (ServerError("gemini", "500", 500), 0, 0, 10.0, Decision(Next.RETRY_SAME, 0.2)),
        (ServerError("gemini", "500", 500), 0, 1, 10.0, NEXT),
        (ServerError("gemini", "503", 503), 0, 0, 10.0, Decision(Next.RETRY_SAME, 0.2)),
        (ProviderUnavailable("gemini", "connection reset"), 0, 0, 10.0,
         Decision(Next.RETRY_SAME, 0.2)),
        (ProviderUnavailable("gemini", "connection reset"), 0, 1, 10.0, NEXT),
        (ServerError("gemini", "500", 500), 0, 0, 0.6, NEXT),  # no time left for a retry
        # silent, stalled, too slow, cut: the fallback, never the same model again
        (FirstTokenTimeout("gemini", "silent"), 0, 0, 10.0, NEXT),
        (StreamStalled("gemini", "stalled"), 0, 0, 10.0, NEXT),
        (ProviderTimeout("gemini", "deadline"), 0, 0, 10.0, NEXT),
        (StreamTruncated("gemini", "cut"), 0, 0, 10.0, NEXT),
        # what this provider refuses: another may accept it
        (ContextTooLong("local", "too long"), 0, 0, 10.0, NEXT),
        (AuthenticationFailed("gemini", "401"), 0, 0, 10.0, NEXT),
        (ModelNotFound("perplexity", "404 unknown model"), 0, 0, 10.0, NEXT),
        (BadRequest("gemini", "400 unsupported parameter"), 0, 0, 10.0, NEXT),
        (UnsupportedParameter("gemini", "thinking_budget"), 0, 0, 10.0, NEXT),
        # the caller must see these as they are
        (ContentBlocked("gemini", "safety"), 0, 0, 10.0, GIVE_UP),
        (InvalidQuery("any", "the question is blank"), 0, 0, 10.0, GIVE_UP),
    ],
)
def test_failover_table(
    error: ProviderError, rate_limited_before: int, failed_before: int, spare_s: float,
    expected: Decision,
) -> None:
    decision = after_failure(
        error, rate_limited_before=rate_limited_before, failed_before=failed_before,
        bounds=BOUNDS, spare_s=spare_s, min_attempt_s=0.5,
    )
    assert decision == expected


def test_a_model_allowed_no_retries_goes_to_the_fallback_after_one_500() -> None:
    bounds = RetryBounds(same_model_retries=0)
    decision = after_failure(ServerError("gemini", "500", 500), rate_limited_before=0,
                             failed_before=0, bounds=bounds, spare_s=10.0, min_attempt_s=0.5)
    assert decision == NEXT


@pytest.mark.parametrize(
    ("error", "max_wait", "spare", "expected"),
    [
        (LIMITED, 2.0, 10.0, 1.0),
        (LIMITED, 0.5, 10.0, None),
        (LIMITED, 2.0, 1.2, None),
        (RateLimited("gemini", "429"), 2.0, 10.0, None),
        (ProviderUnavailable("gemini", "503"), 2.0, 10.0, None),
        (RateLimited("gemini", "429", retry_after_s=0.0), 2.0, 10.0, 0.0),
    ],
)
def test_rate_limit_wait_table(error, max_wait, spare, expected) -> None:
    assert rate_limit_wait_s(error, max_wait_s=max_wait, spare_s=spare, min_attempt_s=0.5) == (
        expected
    )


@pytest.mark.parametrize(
    ("refused_window", "window", "skip"),
    [(0, 2048, False), (2048, 2048, True), (2048, 1024, True), (128_000, 1_048_576, False)],
)
def test_after_context_too_long_only_larger_windows_are_tried(refused_window, window, skip):
    assert context_too_small(refused_window, window) is skip


@pytest.mark.parametrize(
    ("error", "counts"),
    [
        (FirstTokenTimeout("gemini", "silent"), True),
        (ServerError("gemini", "503", 503), True),
        (StreamTruncated("gemini", "cut"), True),
        (RateLimited("gemini", "429", 1.0), False),  # Retry-After cooldown, not a circuit
        (ContextTooLong("gemini", "too long"), False),
        (ContentBlocked("gemini", "safety"), False),
    ],
)
def test_only_health_failures_count_against_the_circuit(error, counts) -> None:
    assert counts_against_circuit(error) is counts


def test_circuit_opens_after_failures_then_one_probe_closes_it() -> None:
    now = [100.0]
    board = CircuitBoard(failures_to_open=2, open_interval_s=2.0, clock=lambda: now[0])
    key = "gemini/gemini-2.5-pro"
    board.failed(key)
    assert board.admit(key) is Admission.CALL  # one failure: still closed
    board.failed(key)
    assert board.admit(key) is Admission.SKIP and board.state(key) == "open"
    now[0] += 2.1
    assert board.admit(key) is Admission.PROBE  # half-open: exactly one probe
    assert board.admit(key) is Admission.SKIP
    board.failed(key)  # the probe failed: open for another interval
    assert board.admit(key) is Admission.SKIP
    now[0] += 2.1
    assert board.admit(key) is Admission.PROBE
    board.succeeded(key)
    assert board.admit(key) is Admission.CALL and board.state(key) == "closed"


def test_a_neutral_probe_frees_the_slot_for_the_next_query() -> None:
    now = [0.0]
    board = CircuitBoard(failures_to_open=1, open_interval_s=1.0, clock=lambda: now[0])
    board.failed("k")
    now[0] += 1.5
    assert board.admit("k") is Admission.PROBE
    board.neutral("k")  # e.g. the probe's input was too long: says nothing about health
    assert board.admit("k") is Admission.PROBE


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

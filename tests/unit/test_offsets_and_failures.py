"""Offset bookkeeping for out-of-order completion, and the per-message failure policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from providers.errors import (
    AuthenticationFailed,
    BadRequest,
    ContentBlocked,
    ContextTooLong,
    ModelNotFound,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from schemas.query import QueryRequested
from services.common.failures import Action, TransientHandlerError, decide
from services.common.offsets import OffsetTracker
from services.dispatcher.failover import Next, after_failure

P = ("topic", 0)


def test_commits_stop_below_the_oldest_message_in_flight() -> None:
    tracker = OffsetTracker()
    for offset in (5, 6, 7):
        tracker.begin(P, offset)
    tracker.done(P, 7)
    tracker.done(P, 6)
    assert tracker.committable() == {P: 5}  # 5 still running: a crash must redeliver it
    tracker.done(P, 5)
    assert tracker.committable() == {P: 8}


def test_nothing_to_commit_twice_and_revoked_partitions_are_forgotten() -> None:
    tracker = OffsetTracker()
    tracker.begin(P, 0)
    tracker.done(P, 0)
    tracker.mark_committed(tracker.committable())
    assert tracker.committable() == {}
    tracker.begin(P, 1)
    tracker.forget([P])
    tracker.done(P, 1)
    assert tracker.committable() == {}
    assert tracker.in_flight_count() == 0


def _validation_error() -> ValidationError:
    try:
        QueryRequested.from_bytes(b"{}")
    except ValidationError as err:
        return err
    raise AssertionError("expected a ValidationError")


@pytest.mark.parametrize(
    ("error", "attempt", "action"),
    [
        (_validation_error(), 1, Action.DEAD_LETTER),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), 1, Action.DEAD_LETTER),
        (TransientHandlerError("redis blip"), 1, Action.RETRY),
        (ConnectionError("reset"), 2, Action.RETRY),
        (TimeoutError(), 3, Action.DEAD_LETTER),
        (KeyError("model not in catalogue"), 1, Action.DEAD_LETTER),
    ],
)
def test_failure_policy(error: BaseException, attempt: int, action: Action) -> None:
    decision = decide(error, attempt)
    assert decision.action is action
    if action is Action.RETRY:
        assert 0 < decision.delay_s <= 2.0


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
        (BadRequest("gemini", "400"), Next.GIVE_UP),
    ],
)
def test_failover_table(error, expected: Next) -> None:
    assert after_failure(error) is expected

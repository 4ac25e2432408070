"""Offset bookkeeping for out-of-order completion, and the per-message failure policy."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from redis.exceptions import BusyLoadingError, DataError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from schemas.query import QueryRequested
from services.common.failures import (
    MAX_RETRY_DELAY_S,
    Action,
    TransientHandlerError,
    decide_failure,
)
from services.common.offsets import OffsetTracker
from services.common.producer import DeliveryError

P = ("topic", 0)


def test_commits_stop_below_the_oldest_message_in_flight() -> None:
    tracker = OffsetTracker()
    tickets = {offset: tracker.begin(P, offset) for offset in (5, 6, 7)}
    tracker.done(tickets[7])
    tracker.done(tickets[6])
    assert tracker.committable() == {P: 5}  # 5 still running: a crash must redeliver it
    tracker.done(tickets[5])
    assert tracker.committable() == {P: 8}


def test_nothing_to_commit_twice_and_revoked_partitions_are_forgotten() -> None:
    tracker = OffsetTracker()
    tracker.done(tracker.begin(P, 0))
    tracker.mark_committed(tracker.committable())
    assert tracker.committable() == {}
    ticket = tracker.begin(P, 1)
    tracker.forget([P])
    assert tracker.done(ticket) is False
    assert tracker.committable() == {}
    assert tracker.in_flight_count() == 0


def test_a_stale_done_from_an_earlier_assignment_cannot_commit_running_work() -> None:
    """Revoked and handed back while offset 10 still runs from the old assignment: the new
    assignment redelivers 10 and is working on it; the old task's "done" must not count."""
    tracker = OffsetTracker()
    old = tracker.begin(P, 10)
    tracker.forget([P])  # revoked
    new = tracker.begin(P, 10)  # assigned again, redelivered, running
    tracker.begin(P, 11)
    assert tracker.done(old) is False
    assert tracker.committable() == {P: 10}  # 10 is still in flight in this generation
    assert tracker.done(new) is True


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
        (TimeoutError(), 3, Action.RETRY),
        # The broker briefly unreachable is transient, however long it takes.
        (DeliveryError("queries: Local: Message timed out"), 1, Action.RETRY),
        (DeliveryError("queries: Local: Message timed out"), 50, Action.RETRY),
        # Redis restarting, loading, or its pool full: wait for it, never a miss.
        (RedisConnectionError("Too many connections"), 7, Action.RETRY),
        (BusyLoadingError("loading"), 1, Action.RETRY),
        # A Redis reply error fails the same way again.
        (ResponseError("WRONGTYPE"), 1, Action.DEAD_LETTER),
        (DataError("bad value"), 1, Action.DEAD_LETTER),
        (KeyError("model not in catalogue"), 1, Action.DEAD_LETTER),
    ],
)
def test_failure_policy(error: BaseException, attempt: int, action: Action) -> None:
    decision = decide_failure(error, attempt)
    assert decision.action is action
    if action is Action.RETRY:
        assert 0 < decision.delay_s <= MAX_RETRY_DELAY_S

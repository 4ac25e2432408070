"""The process's deltas table (strategist/streams/hub.py): history and live deltas without a
gap or a repeat, wake-ups, and the bound on what it keeps."""

from __future__ import annotations

from schemas.delta import AnswerDelta
from strategist.streams import hub as hub_module
from tests.unit.strategist.fakes import OfflineDeltaHub


def _delta(analysis_id: str, sequence: int) -> AnswerDelta:
    return AnswerDelta(analysis_id=analysis_id, query_id=analysis_id, part="text",
                       attempt_id=f"{analysis_id}:1", attempt_number=1, sequence=sequence,
                       text=str(sequence))  # fmt: skip


def test_a_subscriber_gets_the_deltas_so_far_then_each_new_one_once() -> None:
    hub = OfflineDeltaHub()
    hub.add(_delta("a", 1))
    hub.add(_delta("b", 1))
    subscription = hub.subscribe("a")
    hub.add(_delta("a", 2))
    assert [d.sequence for d in subscription.history] == [1]
    assert subscription.next(0.1) is not None and subscription.next(0.01) is None
    hub.unsubscribe(subscription)
    hub.add(_delta("a", 3))
    assert subscription.next(0.01) is None and hub.open_streams() == 0


def test_wake_ends_a_wait_without_a_delta() -> None:
    subscription = OfflineDeltaHub().subscribe("a")
    subscription.wake()
    assert subscription.next(5.0) is None


def test_the_oldest_analyses_go_first_beyond_the_bound(monkeypatch) -> None:
    monkeypatch.setattr(hub_module, "MAX_ANALYSES", 2)
    hub = OfflineDeltaHub()
    for name in ("a", "b", "c"):
        hub.add(_delta(name, 1))
    assert hub.subscribe("a").history == [] and len(hub.subscribe("c").history) == 1

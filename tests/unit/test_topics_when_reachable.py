"""A service started while the broker is away waits for it instead of exiting."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from services.common.admin import ensure_topics_when_reachable
from services.common.settings import InfraSettings


def _failing(codes: list[int], created: list[str]):
    calls: list[int] = []

    def create(_settings: InfraSettings) -> list[str]:
        calls.append(1)
        if codes:
            raise KafkaException(KafkaError(codes.pop(0)))
        return created

    return create, calls


def test_broker_away_at_start_is_waited_for_with_growing_pauses() -> None:
    create, calls = _failing(
        [KafkaError._TRANSPORT, KafkaError._TIMED_OUT, KafkaError._ALL_BROKERS_DOWN], ["t"]
    )
    pauses: list[float] = []
    assert ensure_topics_when_reachable(InfraSettings(), create=create, sleep=pauses.append) == [
        "t"
    ]
    assert len(calls) == 4
    assert len(pauses) == 3 and all(p > 0 for p in pauses)
    assert pauses[2] > pauses[0]


def test_a_refused_topic_is_not_retried() -> None:
    create, calls = _failing([KafkaError.TOPIC_AUTHORIZATION_FAILED], [])
    with pytest.raises(KafkaException):
        ensure_topics_when_reachable(InfraSettings(), create=create, sleep=lambda _s: None)
    assert len(calls) == 1

"""The direct path's answers reach the responses topic even when the broker is away."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from schemas.query import QueryRequested
from services.common.producer import DeliveryError
from strategist.analysis.pipeline import AnswerRecorder
from tests.unit.strategist.fakes import answered

HANG_GUARD_S = 10.0


class FlakyProducer:
    """Fails the first `failures` sends (broker restarting), then delivers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.sent: list[str] = []
        self.delivered = threading.Event()

    def send(self, topic, key, event):  # noqa: ANN001, ANN201 (EventProducer.send's shape)
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self.sent.append(key)
        if len(self.sent) <= self.failures:
            future.set_exception(DeliveryError(f"{topic}: Local: Message timed out"))
        else:
            future.set_result(None)
            self.delivered.set()
        return future


def test_a_failed_record_is_sent_again_until_it_lands(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("strategist.analysis.pipeline.RECORD_FIRST_RETRY_S", 0.01)
    producer = FlakyProducer(failures=3)
    recorder = AnswerRecorder(producer=producer, topic="responses")  # type: ignore[arg-type]
    response = answered(QueryRequested(query_id="a1", query="q"))
    recorder.record(response)
    assert producer.delivered.wait(HANG_GUARD_S)
    assert producer.sent == ["a1"] * 4

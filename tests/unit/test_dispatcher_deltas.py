"""The dispatcher publishes an answer as it is written (services/dispatcher/deltas.py)."""

from __future__ import annotations

import asyncio

import pytest

from providers.base import CompletionRequest, ProviderReply
from providers.errors import StreamTruncated
from schemas.attempt import ProviderAttempt
from schemas.delta import AnswerDelta
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.dispatcher import delta_coalescing
from tests.unit.dispatcher_fakes import (
    TOPICS,
    Broker,
    ScriptedProvider,
    completion_of,
    make_dispatcher,
)

COMPLEX = classify(
    QueryRequested(
        query_id="q1",
        query="Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
    )
)


class StreamingProvider(ScriptedProvider):
    """Hands its pieces to the request's `on_text` listener as a streaming client does,
    then answers them, or is cut after `cut_after` pieces."""

    def __init__(self, name: str, pieces: list[str], cut_after: int | None = None) -> None:
        super().__init__(name)
        self.pieces = pieces
        self.cut_after = cut_after

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        for index, piece in enumerate(self.pieces):
            if index == self.cut_after:
                raise StreamTruncated(self.name, "cut")
            assert request.on_text is not None
            request.on_text(piece)
            await asyncio.sleep(0)
        return ProviderReply(text="".join(self.pieces), model=request.model,
                             input_tokens=10, output_tokens=20, finish_reason="stop")


@pytest.fixture(autouse=True)
def every_piece_its_own_delta(monkeypatch: pytest.MonkeyPatch) -> None:
    """No coalescing: these tests follow each piece (test_delta_coalescing.py the merging)."""
    monkeypatch.setattr(delta_coalescing, "_process_window_s", 0.0)


def _deltas(broker: Broker) -> list[AnswerDelta]:
    events = [o for o in broker.sent if o.topic == TOPICS.answer_deltas]
    assert all(o.key == "q1" for o in events)  # keyed by analysis id: one partition, in order
    return [o.event for o in events if isinstance(o.event, AnswerDelta)]


def test_deltas_are_published_as_they_arrive_with_sequence_and_offset() -> None:
    broker = Broker()
    gemini = StreamingProvider("gemini", ["The ", "plan ", "has three phases."])
    out = asyncio.run(
        make_dispatcher([gemini, ScriptedProvider("perplexity"), ScriptedProvider("local")],
                        broker=broker).handle(COMPLEX)
    )
    events = _deltas(broker)
    assert [e.part for e in events] == ["routing", "started", "text", "text", "text", "succeeded"]
    assert events[0].route == COMPLEX.route and events[0].classification is not None
    texts = [e for e in events if e.part == "text"]
    assert [(e.sequence, e.offset, e.text) for e in texts] == [
        (1, 0, "The "), (2, 4, "plan "), (3, 9, "has three phases.")]
    assert {e.attempt_id for e in events[1:]} == {"q1:1"}
    answer = completion_of(out).answer
    assert answer is not None and "".join(e.text for e in texts) == answer.text
    [attempt] = [o.event for o in out if isinstance(o.event, ProviderAttempt)]
    assert attempt.first_token_ms is not None and events[-1].first_token_ms is not None


def test_a_cut_attempt_ends_failed_and_the_fallback_s_text_follows() -> None:
    broker = Broker()
    gemini = StreamingProvider("gemini", ["Half ", "an ", "answer"], cut_after=2)
    sonar = StreamingProvider("perplexity", ["Whole ", "answer."])
    out = asyncio.run(
        make_dispatcher([gemini, sonar, ScriptedProvider("local")], broker=broker).handle(COMPLEX)
    )
    events = [e for e in _deltas(broker) if e.part != "skipped"]
    parts = [(e.part, e.attempt_number) for e in events]
    failed_at = parts.index(("failed", 1))
    assert parts[:failed_at] == [("routing", 0), ("started", 1), ("text", 1), ("text", 1)]
    assert events[failed_at].error_kind == "stream_truncated"
    last = events[-1]
    assert last.part == "succeeded" and last.provider == "perplexity"
    final_text = "".join(e.text for e in events if e.attempt_id == last.attempt_id)
    answer = completion_of(out).answer
    assert answer is not None and final_text == answer.text == "Whole answer."


def test_a_client_that_does_not_stream_has_its_whole_text_published_at_the_end() -> None:
    broker = Broker()
    asyncio.run(
        make_dispatcher([ScriptedProvider("gemini"), ScriptedProvider("perplexity"),
                         ScriptedProvider("local")], broker=broker).handle(COMPLEX)
    )
    texts = [e.text for e in _deltas(broker) if e.part == "text"]
    assert texts == ["answer from gemini"]


def test_a_burst_of_pieces_is_one_delta_after_the_first_and_ends_before_succeeded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delta_coalescing, "_process_window_s", 0.05)
    broker = Broker()
    gemini = StreamingProvider("gemini", ["The ", "plan ", "has ", "three phases."])
    out = asyncio.run(
        make_dispatcher([gemini, ScriptedProvider("perplexity"), ScriptedProvider("local")],
                        broker=broker).handle(COMPLEX)
    )
    events = _deltas(broker)
    assert [e.part for e in events] == ["routing", "started", "text", "text", "succeeded"]
    texts = [e for e in events if e.part == "text"]
    assert [(e.sequence, e.offset, e.text) for e in texts] == [
        (1, 0, "The "), (2, 4, "plan has three phases.")]
    answer = completion_of(out).answer
    assert answer is not None and "".join(e.text for e in texts) == answer.text

"""The dispatcher on the broker publishes the answer as it is written (answer-deltas topic):
in order, with sequence and offset, and a cut stream's text is marked failed before the
fallback's text, which alone adds up to the answer."""

from __future__ import annotations

import threading
import time

from harness.kafka import TopicReader
from providers.catalogue import GEMINI_PRO
from schemas.delta import AnswerDelta
from schemas.query import QueryOptions, QueryRequested
from services.classifier.handler import classify
from tests.integration import test_dispatcher_failover as failover
from tests.integration.test_dispatcher_failover import HANG_GUARD_S, _completion, _send, _set
from tests.unit.test_dispatcher_continuation import shown_to_a_live_reader

emulator = failover.emulator  # the fixtures of the failover tests, shared
dispatcher = failover.dispatcher


def _deltas(kafka_bootstrap: str, topic: str, analysis_id: str) -> list[AnswerDelta]:
    reader = TopicReader(kafka_bootstrap, topic, AnswerDelta)
    try:
        events = reader.poll_until(
            lambda found: any(e.analysis_id == analysis_id and e.part == "succeeded"
                              for e in found), HANG_GUARD_S)  # fmt: skip
    finally:
        reader.close()
    return [e for e in events if e.analysis_id == analysis_id]


def _end_the_stall(emulator) -> None:
    """Once Pro's stream is held mid-answer, set Gemini back to ok: the held stream ends
    without its finish (a cut) and the next Gemini call, Flash's, answers."""
    deadline = time.monotonic() + HANG_GUARD_S
    while emulator.state()["gemini"]["hanging"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    _set(emulator, "gemini", "ok")


def _attempt_text(deltas: list[AnswerDelta], attempt_id: str) -> str:
    texts = [d for d in deltas if d.attempt_id == attempt_id and d.part == "text"]
    assert [d.sequence for d in texts] == list(range(1, len(texts) + 1))
    assert [d.offset for d in texts] == [sum(len(t.text) for t in texts[:i])
                                         for i in range(len(texts))]
    return "".join(d.text for d in texts)


def test_deltas_reach_the_topic_in_order_and_add_up_to_the_answer(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _send(producer, topics, "d1")
    completion = _completion(kafka_bootstrap, topics, "d1")
    deltas = _deltas(kafka_bootstrap, topics.answer_deltas, "d1")
    assert deltas[0].part == "routing" and deltas[-1].part == "succeeded"
    texts = [d for d in deltas if d.part == "text"]
    assert len(texts) > 1, "a streamed answer arrives in more than one delta"
    assert completion.answer is not None
    assert _attempt_text(deltas, deltas[-1].attempt_id) == completion.answer.text
    assert deltas[-1].first_token_ms is not None


def test_a_cut_stream_shows_text_then_failed_then_the_fallback_s_whole_answer(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "gemini", "cut", after_chunks=2)
    _send(producer, topics, "d2")
    completion = _completion(kafka_bootstrap, topics, "d2")
    deltas = _deltas(kafka_bootstrap, topics.answer_deltas, "d2")
    first = [d for d in deltas if d.attempt_number == 1]
    assert [d.part for d in first][0] == "started" and first[-1].part == "failed"
    assert first[-1].error_kind == "stream_truncated"
    assert any(d.part == "text" for d in first), "the cut attempt had shown text"
    last = deltas[-1]
    assert last.part == "succeeded" and last.model == "sonar-pro"
    assert completion.answer is not None
    assert _attempt_text(deltas, last.attempt_id) == completion.answer.text


def test_a_live_answer_cut_mid_way_is_continued_by_the_next_gemini_model(
    emulator, dispatcher, producer, topics, kafka_bootstrap
) -> None:
    dispatcher()
    _set(emulator, "gemini", "stall", after_chunks=2)
    threading.Thread(target=_end_the_stall, args=(emulator,), daemon=True).start()
    options = QueryOptions(model=GEMINI_PRO, stream_mode="live")
    classified = classify(QueryRequested(query_id="d3", query=failover.COMPLEX, options=options))
    producer.send_and_wait(topics.classified, "d3", classified, 10)
    completion = _completion(kafka_bootstrap, topics, "d3")
    deltas = _deltas(kafka_bootstrap, topics.answer_deltas, "d3")
    started = [d for d in deltas if d.part == "started"]
    assert [(d.model, d.release, d.continues_attempt_id) for d in started] == [
        ("gemini-2.5-pro", "live", ""), ("gemini-2.5-flash", "live", "d3:1")]
    cut = "".join(d.text for d in deltas if d.attempt_id == "d3:1" and d.part == "text")
    rest = [d for d in deltas if d.attempt_id == "d3:2" and d.part == "text"]
    assert cut and rest[0].offset == len(cut)
    assert completion.answer is not None and completion.answer.model == "gemini-2.5-flash"
    assert completion.answer.text == cut + "".join(d.text for d in rest)
    assert shown_to_a_live_reader(deltas) == completion.answer.text

"""The dispatcher SIGKILLed while it streams an answer live: the redelivered query reads
what was shown back from the answer-deltas topic and continues it on a model that accepts
a continuation. Real broker and Redis, the dispatcher and the emulator as processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import TopicReader
from harness.processes import free_port
from providers.catalogue import GEMINI_PRO
from schemas.completion import CompletionProduced
from schemas.delta import AnswerDelta
from schemas.query import QueryOptions, QueryRequested
from services.classifier.handler import classify
from tests.unit.test_dispatcher_continuation import shown_to_a_live_reader

QUESTION = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
LATENCY_SCALE = 4.0
"""Gemini 2.5 Pro thinks about 3.4 s, then streams for about 4 s: time to kill it mid-way."""
WAIT_S = 90.0


@pytest.fixture(scope="module")
def slow_emulator() -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=LATENCY_SCALE) as control:
        yield control


def _events(reader: TopicReader, done, timeout_s: float = WAIT_S) -> list:
    events = reader.poll_until(done, timeout_s)
    assert done(events), f"timed out after {timeout_s:.0f} s with {len(events)} events"
    return events


def test_a_dispatcher_killed_mid_answer_is_continued_without_repeated_or_missing_text(
    slow_emulator, topics, producer, start_service, kafka_bootstrap
) -> None:
    slow_emulator.reset()
    env = {
        "EMULATOR_URL": slow_emulator.base_url,
        "LOCAL_MODEL_URL": f"http://127.0.0.1:{free_port()}/v1",
        "DISPATCHER_LEASE_TTL_S": "2",
    }
    first = start_service("dispatcher", **env)
    options = QueryOptions(model=GEMINI_PRO, stream_mode="live")  # Flash may take over
    classified = classify(QueryRequested(query_id="k1", query=QUESTION, options=options))
    deltas = TopicReader(kafka_bootstrap, topics.answer_deltas, AnswerDelta)
    completions = TopicReader(kafka_bootstrap, topics.completions, CompletionProduced)
    try:
        producer.send_and_wait(topics.classified, "k1", classified, 10)
        shown = _events(deltas, lambda found: sum(e.part == "text" for e in found) >= 3)
        first.kill()  # SIGKILL mid-answer: no end, no completion
        assert not any(e.part in ("succeeded", "failed") for e in shown)
        start_service("dispatcher", **env)
        [completion] = _events(completions, lambda found: len(found) >= 1)
        events = _events(deltas, lambda found: any(e.part == "succeeded" for e in found))
    finally:
        deltas.close()
        completions.close()

    answer = completion.answer
    assert completion.status == "succeeded" and answer is not None
    assert sum(e.part == "routing" for e in events) == 1  # not published again
    started = [e for e in events if e.part == "started"]
    assert [(e.attempt_id, e.release) for e in started] == [("k1:1", "live"), ("k1:2", "live")]
    assert started[1].continues_attempt_id == "k1:1"
    before = "".join(e.text for e in events if e.attempt_id == "k1:1" and e.part == "text")
    after = [e for e in events if e.attempt_id == "k1:2" and e.part == "text"]
    assert after[0].offset == len(before)  # the continuation starts where the caller was
    assert answer.text == before + "".join(e.text for e in after)
    assert shown_to_a_live_reader(events) == answer.text  # nothing repeated, nothing missing
    assert answer.model == GEMINI_PRO and "continues]" not in answer.text  # Pro's own rest
    assert answer.text.count(before) == 1

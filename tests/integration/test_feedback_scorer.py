"""Feedback on the topic moves the scorer's next score for that model and analysis type."""

from __future__ import annotations

import time

import redis

from harness.kafka import TopicReader
from harness.processes import free_port
from schemas.completion import CompletionProduced
from schemas.feedback import FeedbackGiven
from schemas.parts import Answer, AttemptSummary
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.classifier.handler import classify
from services.common.redis_keys import RedisKeys

ANSWER_TIMEOUT_S = 30.0
COUNT_TIMEOUT_S = 30.0
SEND_TIMEOUT_S = 10.0
GRADED = 4
TEXT = "Draft a short thank-you note to our volunteers"


def _completion(query_id: str, provider: str, model: str) -> CompletionProduced:
    classified = classify(QueryRequested(query_id=query_id, query=TEXT))
    answer = Answer(
        provider=provider,  # type: ignore[arg-type]
        model=model,
        text="Thank you for everything you do.",
        input_tokens=30,
        output_tokens=40,
        cost_usd=0.0001,
        latency_ms=100,
    )
    return CompletionProduced(
        query=classified.query,
        classification=classified.classification,
        route=classified.route,
        status="succeeded",
        answer=answer,
        attempts=[AttemptSummary(provider=provider, model=model, outcome="success")],  # type: ignore[arg-type]
    )


def _scored(kafka_bootstrap: str, topic: str, analysis_id: str) -> AnalysisResponded:
    reader = TopicReader(kafka_bootstrap, topic, AnalysisResponded)
    try:
        found = reader.poll_until(
            lambda e: any(r.analysis_id == analysis_id for r in e), ANSWER_TIMEOUT_S
        )
    finally:
        reader.close()
    [response] = [r for r in found if r.analysis_id == analysis_id]
    return response


def test_feedback_changes_the_next_score_of_that_model_and_type_only(
    topics, producer, start_service, kafka_bootstrap, redis_url
) -> None:
    start_service("scorer", EMULATOR_URL=f"http://127.0.0.1:{free_port()}")
    first = _completion("first", "gemini", "gemini-2.5-flash")
    analysis_type = first.classification.analysis_type
    producer.send_and_wait(topics.completions, "first", first, SEND_TIMEOUT_S)
    before = _scored(kafka_bootstrap, topics.responses, "first").confidence
    assert before is not None
    assert before.components["historical_accuracy"].value == 0.5

    grades = [
        FeedbackGiven(
            analysis_id="first",
            rating="correct",
            provider="gemini",
            model="gemini-2.5-flash",
            analysis_type=analysis_type,
        )
        for _ in range(GRADED)
    ]
    for grade in [*grades, grades[0]]:  # the last is a redelivered copy: counted once
        producer.send_and_wait(topics.feedback, grade.analysis_id, grade, SEND_TIMEOUT_S)
    client = redis.Redis.from_url(redis_url)
    key = RedisKeys(topics.namespace).accuracy("gemini", "gemini-2.5-flash", analysis_type)
    deadline = time.monotonic() + COUNT_TIMEOUT_S
    while time.monotonic() < deadline and int(client.hget(key, "total") or 0) < GRADED:
        time.sleep(0.2)
    time.sleep(1.0)  # room for the copy to be (not) counted
    assert client.hgetall(key) == {b"total": str(GRADED).encode(), b"correct": str(GRADED).encode()}
    client.close()

    producer.send_and_wait(
        topics.completions,
        "second",
        _completion("second", "gemini", "gemini-2.5-flash"),
        SEND_TIMEOUT_S,
    )
    producer.send_and_wait(
        topics.completions,
        "other",
        _completion("other", "gemini", "gemini-2.5-pro"),
        SEND_TIMEOUT_S,
    )
    after = _scored(kafka_bootstrap, topics.responses, "second").confidence
    other = _scored(kafka_bootstrap, topics.responses, "other").confidence

    assert after is not None and other is not None
    expected = (GRADED + 1) / (GRADED + 2)  # mean of Beta(1 + 4, 1 + 0)
    assert after.components["historical_accuracy"].value == round(expected, 4)
    assert after.score > before.score
    assert other.components["historical_accuracy"].value == 0.5

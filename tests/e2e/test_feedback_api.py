"""End to end: feedback through the API reaches the topic, the GET and the scorer's counts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from harness.kafka import TopicReader
from schemas.feedback import FeedbackGiven
from services.common.redis_keys import RedisKeys
from tests.e2e.stack import API, Stack, StackFactory

pytestmark = pytest.mark.e2e

COUNT_TIMEOUT_S = 30.0
TOPIC_TIMEOUT_S = 20.0
UNKNOWN = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[Stack]:
    with stack_factory() as running_stack:
        yield running_stack


def test_feedback_is_202_shown_published_and_counted(stack: Stack) -> None:
    app = stack.app
    answered = app.analyze("Draft a short thank-you note to our volunteers")
    assert answered.status_code == 200, answered.text
    body = answered.json()
    analysis_id = body["analysis_id"]
    routing = body["routing"]

    reply = app.client.post(
        f"{API}/analyses/{analysis_id}/feedback",
        json={"rating": "correct", "comment": "spot on", "grader": "e2e"},
    )

    assert reply.status_code == 202, reply.text
    feedback_id = reply.json()["feedback_id"]
    shown = app.client.get(f"{API}/analyses/{analysis_id}").json()
    assert [(f["event_id"], f["rating"]) for f in shown["feedback"]] == [(feedback_id, "correct")]
    reader = TopicReader(stack.bootstrap, stack.topics.feedback, FeedbackGiven)
    try:
        [event] = reader.poll_until(lambda e: len(e) >= 1, TOPIC_TIMEOUT_S)
    finally:
        reader.close()
    assert (event.analysis_id, event.provider, event.model) == (
        analysis_id,
        routing["provider"],
        routing["model"],
    )
    # The scorer counted it for the model that answered.
    client = redis.Redis.from_url(stack.redis_url)
    key = RedisKeys(stack.namespace).accuracy(
        routing["provider"], routing["model"], event.analysis_type or "general"
    )
    deadline = time.monotonic() + COUNT_TIMEOUT_S
    while time.monotonic() < deadline and client.hget(key, "total") is None:
        time.sleep(0.2)
    assert client.hgetall(key) == {b"total": b"1", b"correct": b"1"}
    client.close()


def test_feedback_for_an_unknown_analysis_is_404(stack: Stack) -> None:
    reply = stack.app.client.post(
        f"{API}/analyses/{UNKNOWN}/feedback", json={"rating": "incorrect"}
    )
    assert reply.status_code == 404
    assert reply.json()["error"]["field"] == "analysis_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"rating": "meh"}, "rating"), ({"rating": "correct", "stars": 5}, "stars")],
)
def test_bad_feedback_is_422_naming_the_field(stack: Stack, body: dict, field: str) -> None:
    answered = stack.app.analyze("Draft a short thank-you note to our donors")
    analysis_id = answered.json()["analysis_id"]
    reply = stack.app.client.post(f"{API}/analyses/{analysis_id}/feedback", json=body)
    assert reply.status_code == 422
    assert reply.json()["error"]["field"] == field

"""Answers survive Redis losing them: GET by id falls back to the responses topic.

The whole stack in a fresh namespace. An analysis answered by the pipeline, and one
answered by the direct path (routing off), are read back with the same body after
their Redis keys are deleted, as a Redis restart without persistence would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from harness.kafka import TopicReader
from schemas.response import AnalysisResponded
from services.common.redis_keys import RedisKeys
from tests.e2e.stack import API, Stack, StackFactory, poll_until_done

pytestmark = pytest.mark.e2e

QUESTION = "latest polls in Arizona this week"
RECORDED_WITHIN_S = 10.0


def _analysis(body: dict) -> dict:
    """The analysis itself: GET also lists the feedback received (`feedback`), POST does not."""
    return {k: v for k, v in body.items() if k != "feedback"}


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[Stack]:
    with stack_factory(apps={"direct": {"STRATEGIST_ROUTING__ENABLED": "false"}}) as running:
        yield running


def _on_the_topic(stack: Stack, analysis_id: str) -> None:
    """Until the answer is on the responses topic: the direct path records it there
    without making its caller wait for the broker's acknowledgement."""
    reader = TopicReader(stack.bootstrap, stack.topics.responses, AnalysisResponded)
    try:
        seen = reader.poll_until(
            lambda events: any(e.analysis_id == analysis_id for e in events), RECORDED_WITHIN_S
        )
    finally:
        reader.close()
    assert any(e.analysis_id == analysis_id for e in seen), f"{analysis_id} not on the topic"


def _forget(stack: Stack, analysis_id: str) -> None:
    keys = RedisKeys(stack.namespace)
    client = redis.Redis.from_url(stack.redis_url)
    try:
        client.delete(keys.result(analysis_id), keys.pending(analysis_id))
        assert client.get(keys.result(analysis_id)) is None
    finally:
        client.close()


@pytest.mark.parametrize("app_name", ["routed", "direct"])
def test_an_answer_is_readable_after_redis_lost_it(stack: Stack, app_name: str) -> None:
    app = stack.apps[app_name]
    answered = app.analyze(QUESTION, campaign_id="az-senate")
    assert answered.status_code == 200, answered.text
    body = answered.json()
    status_url = f"{API}/analyses/{body['analysis_id']}"
    assert _analysis(app.client.get(status_url).json()) == _analysis(body)

    _on_the_topic(stack, body["analysis_id"])
    _forget(stack, body["analysis_id"])
    for reader in stack.apps.values():  # any app process can read it back
        again = reader.client.get(status_url)
        assert again.status_code == 200, again.text
        assert _analysis(again.json()) == _analysis(body)


def test_an_async_answer_is_readable_after_redis_lost_it(stack: Stack) -> None:
    accepted = stack.app.client.post(f"{API}/analyses", json={"query": QUESTION})
    assert accepted.status_code == 202
    done = poll_until_done(stack.app, accepted.json()["status_url"])
    assert done.status_code == 200, done.text
    _forget(stack, done.json()["analysis_id"])
    assert _analysis(stack.app.client.get(accepted.json()["status_url"]).json()) == _analysis(
        done.json()
    )


def test_an_unknown_id_is_still_404(stack: Stack) -> None:
    for unknown in (uuid.uuid4().hex, "0190e0f4a1b27c3d8e4f5a6b7c8d9e0f"):
        response = stack.app.client.get(f"{API}/analyses/{unknown}")
        assert response.status_code == 404, response.text

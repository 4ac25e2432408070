"""End to end: provider faults as the strategist API's caller sees them.

- A provider's safety filter refusing the question reaches the caller as 422
  `content_blocked` with the provider's reason, on the synchronous call and on the
  status URL of an asynchronous one (it was 502, "no provider could answer"); no
  failover, the caller must see the refusal.
- With Gemini down in the emulator, a complex question is still answered.

Their own stack, so the faults (and the health service's memory of them) touch no other
module's tests; the refusal runs first, while the health service has no memory of an
outage.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.stack import API, Stack, StackFactory, poll_until_done

pytestmark = pytest.mark.e2e

STRATEGY = (
    "Design a 3-phase persuasion strategy from these crosstabs for rural voters in "
    "Pennsylvania, weighing the trade-offs of each phase"
)


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[Stack]:
    with stack_factory() as running_stack:
        yield running_stack


def _assert_blocked(reply: httpx.Response) -> None:
    assert reply.status_code == 422, reply.text
    error = reply.json()["error"]
    assert error["code"] == "content_blocked"
    assert error["message"].startswith("gemini/gemini-2.5-pro refused the query: ")
    assert error["field"] == "query" and error["analysis_id"]


def test_a_content_filter_refusal_is_422_on_analyze_and_on_get(stack: Stack) -> None:
    stack.emulator.set_mode("gemini", "content_filter")
    try:
        sync = stack.app.analyze(STRATEGY)
        accepted = stack.app.client.post(f"{API}/analyses", json={"query": STRATEGY})
        assert accepted.status_code == 202, accepted.text
        finished = poll_until_done(stack.app, accepted.json()["status_url"])
    finally:
        stack.emulator.set_mode("gemini", "ok")
    _assert_blocked(sync)
    _assert_blocked(finished)
    assert finished.json()["error"]["analysis_id"] == accepted.json()["analysis_id"]

    trail = stack.app.client.get(f"{API}/analyses/{sync.json()['error']['analysis_id']}")
    assert trail.status_code == 422  # the same answer when asked again


def test_gemini_down_fails_over_to_another_provider(stack: Stack) -> None:
    stack.emulator.set_mode("gemini", "down")
    try:
        response = stack.app.analyze(STRATEGY)
    finally:
        stack.emulator.set_mode("gemini", "ok")
    assert response.status_code == 200, response.text
    body = response.json()
    routing = body["routing"]
    assert body["status"] == "completed"
    assert routing["route"][0]["provider"] == "gemini", "the classifier's primary is Gemini"
    assert routing["provider"] in ("perplexity", "local")
    not_answered = routing["failed_attempts"] + routing["skipped"]
    assert any(a["provider"] == "gemini" for a in not_answered), routing
    assert 0.0 <= body["confidence"]["score"] <= 1.0

"""End to end: with Gemini down in the emulator, a complex question is still answered.

Its own stack, so the fault (and the health service's memory of it) touches no
other module's tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack, StackFactory

pytestmark = pytest.mark.e2e

STRATEGY = (
    "Design a 3-phase persuasion strategy from these crosstabs for rural voters in "
    "Pennsylvania, weighing the trade-offs of each phase"
)


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[Stack]:
    with stack_factory() as running_stack:
        yield running_stack


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

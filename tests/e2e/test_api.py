"""End to end through HTTP: routed sync and async analyses, the direct path, the local model.

One stack for the module: the four services, the routed app (gunicorn, 2 workers),
an app with routing switched off, and an app whose broker address is dead (the
emergency fallback).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.kafka import TopicReader
from harness.processes import free_port
from schemas.query import QueryRequested
from tests.e2e.stack import API, Stack, StackFactory, poll_until_done

pytestmark = pytest.mark.e2e

POLLS = "latest polls in Arizona this week"
STRATEGY = (
    "Build a 3-phase persuasion strategy from these crosstabs for suburban women in "
    "Maricopa County, with the trade-offs of each phase"
)
TWEET = "fix the spelling of this tweet: Our canddate will fight for evrey family in Arizna!"


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[Stack]:
    dead_broker = f"127.0.0.1:{free_port()}"
    apps = {
        "direct": {"STRATEGIST_ROUTING__ENABLED": "false"},
        "no-kafka": {"KAFKA_BOOTSTRAP_SERVERS": dead_broker},
    }
    with stack_factory(apps=apps) as running_stack:
        yield running_stack


def _assert_routed_body(body: dict, provider: str) -> None:
    assert body["status"] == "completed", body
    assert body["result"]
    for key in ("analysis_id", "analysis_type", "result", "created_at"):
        assert key in body
    routing = body["routing"]
    assert routing["path"] == "intelligent"
    assert routing["provider"] == provider, routing["explanation"]
    assert routing["model"]
    assert routing["cost_usd"] >= 0
    assert routing["latency_ms"] > 0
    assert isinstance(routing["failed_attempts"], list)
    assert routing["explanation"]
    assert 0.0 <= body["confidence"]["score"] <= 1.0
    assert body["confidence"]["components"]


def test_live_data_question_goes_to_perplexity(stack: Stack) -> None:
    response = stack.app.analyze(POLLS, campaign_id="az-senate")
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_routed_body(body, "perplexity")
    assert body["citations"], "Perplexity answers carry citations"
    assert body["campaign_id"] == "az-senate"


def test_complex_strategy_question_goes_to_gemini(stack: Stack) -> None:
    response = stack.app.analyze(STRATEGY, analysis_type="strategy")
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_routed_body(body, "gemini")
    assert body["routing"]["model"] == "gemini-2.5-pro"
    assert body["analysis_type"] == "strategy"


def test_spelling_fix_goes_to_flash_because_the_local_model_is_measured_too_weak(
    stack: Stack,
) -> None:
    """SmolLM2-135M fixes 1 of 10 spellings usably on the routine set (capability.json),
    so the capability policy sends the fix to the cheapest hosted model and says why."""
    response = stack.app.analyze(TWEET)
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_routed_body(body, "gemini")
    assert body["routing"]["classification"]["routine_kind"] == "fix_grammar"
    first = body["routing"]["route"][0]
    assert first["model"] == "gemini-2.5-flash"
    assert "local model not used for grammar and spelling fixes" in first["reason"]


def test_a_caller_restricted_to_the_local_model_is_answered_by_it(stack: Stack) -> None:
    response = stack.app.analyze(TWEET, options={"providers": ["local"]})
    assert response.status_code == 200, response.text
    body = response.json()
    _assert_routed_body(body, "local")
    assert body["result"].strip()
    assert body["routing"]["emulated"] is False
    assert body["routing"]["cost_usd"] == 0.0


def test_async_submit_then_poll(stack: Stack) -> None:
    response = stack.app.client.post(f"{API}/analyses", json={"query": POLLS})
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status"] == "pending"
    assert response.headers["Location"] == accepted["status_url"]
    assert accepted["status_url"].endswith(accepted["analysis_id"])

    done = poll_until_done(stack.app, accepted["status_url"])
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["analysis_id"] == accepted["analysis_id"]
    _assert_routed_body(body, "perplexity")


def test_sync_result_is_also_readable_by_id(stack: Stack) -> None:
    body = stack.app.analyze(POLLS).json()
    again = stack.app.client.get(f"{API}/analyses/{body['analysis_id']}")
    assert again.status_code == 200
    assert again.json()["result"] == body["result"]


def test_unknown_analysis_is_404(stack: Stack) -> None:
    response = stack.app.client.get(f"{API}/analyses/0123456789abcdef0123456789abcdef")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_bad_input_is_a_json_4xx_naming_the_field(stack: Stack) -> None:
    response = stack.app.client.post(f"{API}/analyze", json={"query": "x", "colour": "red"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "colour"
    response = stack.app.client.post(
        f"{API}/analyze", content=b"not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_concurrent_requests_across_workers(stack: Stack) -> None:
    """Both gunicorn workers await their own responses through their own followers.

    A worker lets at most STRATEGIST_SYNC_WAIT_LIMIT (6) callers wait at once and
    answers the others 202 with a status URL, so 12 callers may not all wait; every
    analysis is answered either way."""
    queries = [POLLS, STRATEGY] * 6
    with ThreadPoolExecutor(len(queries)) as pool:
        responses = list(pool.map(lambda q: stack.app.analyze(q), queries))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 202}, statuses
    assert statuses.count(200) >= 6, statuses
    finished = [
        r if r.status_code == 200 else poll_until_done(stack.app, r.json()["status_url"])
        for r in responses
    ]
    assert [r.status_code for r in finished] == [200] * len(queries)
    ids = {r.json()["analysis_id"] for r in finished}
    assert len(ids) == len(queries)


def test_providers_view_and_readiness(stack: Stack) -> None:
    body = stack.app.client.get(f"{API}/providers").json()
    by_name = {p["provider"]: p for p in body["providers"]}
    assert set(by_name) == {"gemini", "perplexity", "local"}
    assert by_name["gemini"]["emulated"] is True
    assert by_name["local"]["emulated"] is False
    assert {m["model"] for m in by_name["gemini"]["models"]} >= {"gemini-2.5-pro"}
    assert all(p["state"] in ("healthy", "degraded", "down") for p in body["providers"])
    ready = stack.app.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["kafka"]["ok"] is True


def test_flag_off_takes_the_direct_path_without_kafka(stack: Stack) -> None:
    direct = stack.apps["direct"]
    response = direct.analyze(STRATEGY, campaign_id="direct-campaign")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["routing"]["path"] == "direct"
    assert body["routing"]["provider"] == "gemini"
    assert body["routing"]["model"] == "gemini-2.5-pro"
    assert 0.0 <= body["confidence"]["score"] <= 1.0
    assert "switched off" in body["routing"]["explanation"]
    stored = direct.client.get(f"{API}/analyses/{body['analysis_id']}")
    assert stored.status_code == 200

    # A routed query published afterwards marks how far the topic must be read.
    sentinel = stack.app.analyze(POLLS).json()["analysis_id"]
    reader = TopicReader(stack.bootstrap, stack.topics.queries, QueryRequested)
    try:
        events = reader.poll_until(
            lambda seen: any(e.query_id == sentinel for e in seen), timeout_s=20
        )
        reader.poll_until(lambda _seen: False, timeout_s=1.0)  # drain the other partitions
    finally:
        reader.close()
    ids = {e.query_id for e in events} | {e.query_id for e in reader.events}
    assert sentinel in ids
    assert body["analysis_id"] not in ids


def test_flag_off_async_also_answers_directly(stack: Stack) -> None:
    direct = stack.apps["direct"]
    response = direct.client.post(f"{API}/analyses", json={"query": POLLS})
    assert response.status_code == 202
    done = poll_until_done(direct, response.json()["status_url"])
    assert done.status_code == 200, done.text
    assert done.json()["routing"]["path"] == "direct"


def test_unreachable_kafka_falls_back_to_the_direct_path(stack: Stack) -> None:
    app = stack.apps["no-kafka"]
    started = time.monotonic()
    response = app.analyze(POLLS)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["routing"]["path"] == "direct"
    assert body["routing"]["provider"] == "gemini"
    assert "Emergency fallback" in body["routing"]["explanation"]
    assert elapsed < 15, f"fallback took {elapsed:.1f}s"

    ready = app.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["kafka"]

"""AnalysisService behaviours on fakes: bounded sync waits, the durable-record fallback of
GET by id, and the first answer staying the answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from schemas.query import QueryRequested
from strategist.analysis.ids import new_analysis_id
from tests.unit.strategist.conftest import FakedApp
from tests.unit.strategist.fakes import answered, unreachable

API = "/api/v1/strategist"
Faked = Callable[..., FakedApp]
HANG_GUARD_S = 10.0


# --- bounded synchronous waits --------------------------------------------------------


def test_callers_past_the_sync_wait_limit_are_accepted_async_at_once(faked: Faked) -> None:
    client, parts = faked(sync_wait_limit=2, sync_timeout_s=HANG_GUARD_S)
    waiting = threading.Barrier(3)
    calls: list[QueryRequested] = []
    lock = threading.Lock()

    def published(query: QueryRequested) -> None:
        with lock:
            calls.append(query)
            holder = len(calls) <= 2
        if holder:
            waiting.wait(HANG_GUARD_S)

    parts.publisher.on_publish = published
    results: list[int] = []
    holders = [
        threading.Thread(
            target=lambda: results.append(
                client.post(f"{API}/analyze", json={"query": "q"}).status_code
            )
        )
        for _ in range(2)
    ]
    for holder in holders:
        holder.start()
    waiting.wait(HANG_GUARD_S)  # both holders published and now wait for an answer

    started = time.monotonic()
    overflow = client.post(f"{API}/analyze", json={"query": "third"})
    assert time.monotonic() - started < HANG_GUARD_S / 2
    assert overflow.status_code == 202
    body = overflow.get_json()
    assert body["status"] == "pending" and body["status_url"].endswith(body["analysis_id"])
    assert body["analysis_id"] in parts.store.pending_markers
    assert body["analysis_id"] == calls[2].query_id

    for query in calls:  # the pipeline answers everyone
        response = answered(query)
        parts.store.save(response)
        parts.waiter.dispatch(query.query_id.encode(), response.to_bytes())
    for holder in holders:
        holder.join(HANG_GUARD_S)
    assert results == [200, 200]
    assert client.get(body["status_url"]).status_code == 200


def test_a_freed_wait_slot_is_reused(faked: Faked) -> None:
    client, parts = faked(sync_wait_limit=1, sync_timeout_s=0.05)
    for _ in range(3):  # each call times out and gives its slot back
        assert client.post(f"{API}/analyze", json={"query": "q"}).status_code == 202
    assert parts.store.pending_markers  # each went through the sync path and marked pending
    parts.publisher.on_publish = lambda query: parts.store.save(answered(query))
    assert client.post(f"{API}/analyze", json={"query": "q"}).status_code == 200


def test_overflow_without_redis_is_503(faked: Faked) -> None:
    client, parts = faked(sync_wait_limit=1, sync_timeout_s=HANG_GUARD_S)
    gate = threading.Event()
    parts.publisher.on_publish = lambda _q: gate.set()
    holder = threading.Thread(target=lambda: client.post(f"{API}/analyze", json={"query": "q"}))
    holder.start()
    assert gate.wait(HANG_GUARD_S)
    parts.store.down = True
    response = client.post(f"{API}/analyze", json={"query": "q"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "store_unavailable"
    parts.store.down = False
    [query] = parts.publisher.published
    parts.waiter.dispatch(query.query_id.encode(), answered(query).to_bytes())
    holder.join(HANG_GUARD_S)


# --- GET by id falls back to the durable record -----------------------------------------


def test_an_answer_redis_lost_is_read_from_the_topic(faked: Faked) -> None:
    client, parts = faked()
    analysis_id = new_analysis_id()
    response = answered(QueryRequested(query_id=analysis_id, query="q"))
    parts.archive.answers[analysis_id] = response
    got = client.get(f"{API}/analyses/{analysis_id}")
    assert got.status_code == 200
    assert got.get_json() == response.model_dump(mode="json")
    assert parts.store.results[analysis_id] == response  # stored again for the next read
    assert client.get(f"{API}/analyses/{analysis_id}").status_code == 200
    assert parts.archive.lookups == [analysis_id]


def test_redis_unreachable_still_answers_from_the_topic(faked: Faked) -> None:
    client, parts = faked()
    analysis_id = new_analysis_id()
    parts.archive.answers[analysis_id] = answered(QueryRequested(query_id=analysis_id, query="q"))
    parts.store.down = True
    assert client.get(f"{API}/analyses/{analysis_id}").status_code == 200
    assert client.get(f"{API}/analyses/{new_analysis_id()}").status_code == 503


def test_pending_and_stored_answers_do_not_touch_the_topic(faked: Faked) -> None:
    client, parts = faked()
    body = client.post(f"{API}/analyses", json={"query": "q"}).get_json()
    assert client.get(body["status_url"]).status_code == 202
    parts.store.save(answered(parts.publisher.published[0]))
    assert client.get(body["status_url"]).status_code == 200
    assert parts.archive.lookups == []


def test_a_running_analysis_redis_forgot_is_pending_not_unknown(faked: Faked) -> None:
    """Redis lost the pending marker of an analysis still in the pipeline: the query is on
    the queries topic, so the caller is told to keep polling (202), not 404."""
    client, parts = faked()
    analysis_id = new_analysis_id()
    parts.archive.queries.add(analysis_id)
    response = client.get(f"{API}/analyses/{analysis_id}")
    assert response.status_code == 202
    assert response.get_json()["status"] == "pending"


def test_unknown_everywhere_is_404_and_an_unreadable_topic_503(faked: Faked) -> None:
    client, parts = faked()
    analysis_id = new_analysis_id()
    assert client.get(f"{API}/analyses/{analysis_id}").status_code == 404
    parts.archive.down = True
    response = client.get(f"{API}/analyses/{analysis_id}")
    assert response.status_code == 503
    assert response.headers["Retry-After"]


# --- the first answer stays the answer ---------------------------------------------------


def test_direct_answer_is_recorded_on_the_topic(faked: Faked) -> None:
    client, parts = faked()
    parts.publisher.on_publish = unreachable
    body = client.post(f"{API}/analyze", json={"query": "q"}).get_json()
    assert [r.analysis_id for r in parts.recorder.recorded] == [body["analysis_id"]]


def test_when_the_pipeline_answered_first_the_fallback_returns_that_answer(
    faked: Faked,
) -> None:
    client, parts = faked()

    def timed_out_but_delivered(query: QueryRequested) -> None:
        parts.store.save(answered(query))  # the pipeline got it after all, and was quicker
        unreachable(query)

    parts.publisher.on_publish = timed_out_but_delivered
    response = client.post(f"{API}/analyze", json={"query": "q"})
    body = response.get_json()
    assert body["routing"]["path"] == "intelligent"
    assert client.get(f"{API}/analyses/{body['analysis_id']}").get_json() == body
    assert parts.recorder.recorded == []


def test_a_direct_answer_redis_could_not_take_is_stored_once_redis_is_back(
    faked: Faked, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kafka and Redis both away (a broker restart, then Redis): the async caller's direct
    answer used to be logged as "not stored" and lost. It is written again until it lands."""
    monkeypatch.setattr("strategist.service.STORE_FIRST_RETRY_S", 0.01)
    client, parts = faked()
    parts.publisher.on_publish = unreachable
    parts.store.down = True
    writes = 0
    real_save = parts.store.save

    def save_when_back(response):  # Redis answers again from the third write on
        nonlocal writes
        writes += 1
        parts.store.down = writes < 3
        return real_save(response)

    parts.store.save = save_when_back  # type: ignore[method-assign]
    body = client.post(f"{API}/analyze", json={"query": "q"}).get_json()
    assert parts.store.results[body["analysis_id"]].analysis_id == body["analysis_id"]
    assert writes >= 3

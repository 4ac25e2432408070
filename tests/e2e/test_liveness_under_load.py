"""`/healthz` answers while every synchronous caller waits on a slow `/analyze`.

gunicorn with 2 workers x 8 threads, as deployed; no service runs, so every routed
analysis waits until the sync deadline. Before, 16 such requests took all 16 threads
and `/healthz` went unanswered. Now at most `STRATEGIST_SYNC_WAIT_LIMIT` (6) callers
per process wait; the others are answered 202 with a status URL at once, and their
analyses go on.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from harness.processes import free_port, infra_env, unique_namespace
from tests.e2e.stack import API, APP_READY_TIMEOUT_S, gunicorn
from tests.support.keys import test_key

pytestmark = pytest.mark.e2e

SLOW_CALLERS = 24
"""More than the 16 threads of 2 workers x 8."""
SYNC_TIMEOUT_S = 20.0
PROBE_TIMEOUT_S = 3.0
PROBES = 5
OVERFLOW_ANSWER_BOUND_S = 10.0
"""Generous: catches callers that waited for the sync deadline instead."""
KEY_HEADER: dict[str, str] = {}
"""The module app's API key header (set by the fixture)."""


@pytest.fixture(scope="module")
def base_url(kafka_bootstrap: str, redis_url: str, database_url: str) -> Iterator[str]:
    env = infra_env(
        unique_namespace("e2e-liveness"),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        EMULATOR_URL=f"http://127.0.0.1:{free_port()}",  # routed queries never call it
        STRATEGIST_SYNC_TIMEOUT_S=str(SYNC_TIMEOUT_S),
    )
    port = free_port()
    process = gunicorn("app-liveness", env, port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_until(
            lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200,
            APP_READY_TIMEOUT_S,
            "/healthz",
        )
        # Each worker's first publish creates the topics and positions its follower.
        KEY_HEADER.update(test_key(database_url).header)
        with httpx.Client(base_url=url, timeout=30, headers=KEY_HEADER) as client:
            for _ in range(4):
                assert client.post(f"{API}/analyses", json={"query": "warm"}).status_code == 202
        yield url
    finally:
        process.stop()


def _slow_call(url: str, index: int) -> tuple[int, float]:
    started = time.monotonic()
    response = httpx.post(
        f"{url}{API}/analyze",
        json={"query": f"slow question {index}"},
        headers=KEY_HEADER,
        timeout=SYNC_TIMEOUT_S + 30,
    )
    return response.status_code, time.monotonic() - started


def test_healthz_answers_while_every_caller_waits(base_url: str) -> None:
    with ThreadPoolExecutor(SLOW_CALLERS) as callers:
        calls = [callers.submit(_slow_call, base_url, i) for i in range(SLOW_CALLERS)]
        time.sleep(2.0)  # every worker thread that may wait is waiting now
        probe_times = []
        for _ in range(PROBES):
            started = time.monotonic()
            response = httpx.get(f"{base_url}/healthz", timeout=PROBE_TIMEOUT_S)
            probe_times.append(time.monotonic() - started)
            assert response.status_code == 200
            time.sleep(0.2)
        print(f"/healthz under load: worst {max(probe_times) * 1000:.0f} ms")
        results = [call.result() for call in calls]

    statuses = [status for status, _ in results]
    assert set(statuses) == {202}, statuses  # nobody answers, so everyone gets a status URL
    quick = [elapsed for _status, elapsed in results if elapsed < OVERFLOW_ANSWER_BOUND_S]
    assert len(quick) >= SLOW_CALLERS - 2 * 6, results  # the overflow was not held

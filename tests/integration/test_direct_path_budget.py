"""The app's direct path pays from the campaign's budget, against the real Redis.

One Gemini 2.5 Pro call per query (the real SDK against the in-process emulator): its
maximum cost is reserved before the call and settled after; a campaign whose limit
cannot cover it gets `budget_exhausted` (HTTP 402) and Gemini is never called.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest
import redis
from flask import Flask

from core.attempt import completion_request
from harness.processes import free_port
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_PRO
from providers.gemini import GeminiProvider
from providers.settings import ProviderSettings
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.common.redis_client import async_redis
from services.common.spend import SpendLedger, read_usage, set_monthly_limit
from services.common.spend_rules import BUDGET_EXHAUSTED, max_call_cost_usd
from strategist.analysis.direct import BOOKS_UNAVAILABLE, DirectAnalyzer
from strategist.analysis.loop import LoopRunner
from strategist.answers import finished_answer as _finished
from tests.support.emulator_server import running_emulator
from tests.support.forwarder import forwarder

REASON = "Intelligent routing is switched off"
TIMEOUT_S = 10.0
CONCURRENT_QUERIES = 12
CALLS_THE_LIMIT_COVERS = 3
CLOSE_TIMEOUT_S = 5.0
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
PRO = DEFAULT_CATALOGUE.get("gemini", GEMINI_PRO)


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(latency_scale=0.0) as url:
        yield url


def direct_analyzer(emulator_url: str, books_url: str, namespace: str) -> Iterator[DirectAnalyzer]:
    httpx.post(f"{emulator_url}/_control/reset", timeout=5).raise_for_status()
    loop = LoopRunner()
    provider = GeminiProvider(
        settings=ProviderSettings(gemini_api_key=None, emulator_url=emulator_url)
    )
    client = async_redis(books_url, concurrency=CONCURRENT_QUERIES)
    yield DirectAnalyzer(
        provider=provider, catalogue=DEFAULT_CATALOGUE, runner=loop, timeout_s=TIMEOUT_S,
        ledger=SpendLedger(redis=client, namespace=namespace),
    )  # fmt: skip
    loop.run(provider.aclose(), CLOSE_TIMEOUT_S)
    loop.run(client.aclose(), CLOSE_TIMEOUT_S)
    loop.stop()


@pytest.fixture
def direct(emulator_url: str, redis_url: str, namespace: str) -> Iterator[DirectAnalyzer]:
    yield from direct_analyzer(emulator_url, redis_url, namespace)


def gemini_calls(emulator_url: str) -> int:
    counters = httpx.get(f"{emulator_url}/_control/requests?provider=gemini", timeout=5).json()
    return int(counters["gemini"]["requests"])


def query_for(campaign: str) -> QueryRequested:
    return QueryRequested(
        query_id=uuid.uuid4().hex, query="How should we frame the economy in Ohio?",
        campaign_id=campaign,
    )  # fmt: skip


def max_cost(query: QueryRequested) -> float:
    return max_call_cost_usd(PRO, completion_request(query, PRO, TIMEOUT_S))


def status_code(response: AnalysisResponded) -> int:
    """The HTTP status the API gives this response (the router's own mapping)."""
    with Flask(__name__).app_context():
        return _finished(response, failed_status=502).status_code


def test_a_campaign_whose_limit_cannot_cover_the_call_gets_402_and_pays_nothing(
    direct: DirectAnalyzer, books: redis.Redis, namespace: str, emulator_url: str
) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    query = query_for(campaign)
    set_monthly_limit(books, namespace, campaign, max_cost(query) / 2)
    response = direct.analyze(query, reason=REASON)
    assert response.status == "failed"
    assert (response.error or "").startswith(BUDGET_EXHAUSTED)
    assert status_code(response) == 402
    assert response.routing.path == "direct" and response.routing.cost_usd == 0.0
    assert gemini_calls(emulator_url) == 0
    assert read_usage(books, namespace, campaign).spent_usd == 0.0


def test_a_direct_answer_books_its_real_cost(
    direct: DirectAnalyzer, books: redis.Redis, namespace: str
) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    query = query_for(campaign)
    limit = max_cost(query) * 2
    set_monthly_limit(books, namespace, campaign, limit)
    response = direct.analyze(query, reason=REASON)
    assert response.status == "completed"
    usage = read_usage(books, namespace, campaign)
    assert usage.reserved_usd == 0.0
    assert usage.spent_usd == pytest.approx(response.routing.cost_usd, abs=1e-6)
    assert response.routing.budget_remaining_usd == pytest.approx(limit - usage.spent_usd, abs=1e-5)


def test_concurrent_direct_calls_never_spend_beyond_the_limit(
    direct: DirectAnalyzer, books: redis.Redis, namespace: str, emulator_url: str
) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    queries = [query_for(campaign) for _ in range(CONCURRENT_QUERIES)]
    limit = max_cost(queries[0]) * CALLS_THE_LIMIT_COVERS + 1e-5  # micro-USD rounding
    set_monthly_limit(books, namespace, campaign, limit)
    with concurrent.futures.ThreadPoolExecutor(CONCURRENT_QUERIES) as threads:
        responses = list(threads.map(lambda q: direct.analyze(q, reason=REASON), queries))
    answered = [r for r in responses if r.status == "completed"]
    refused = [r for r in responses if (r.error or "").startswith(BUDGET_EXHAUSTED)]
    assert len(answered) + len(refused) == CONCURRENT_QUERIES  # every query ended, one way
    assert CALLS_THE_LIMIT_COVERS <= len(answered) < CONCURRENT_QUERIES
    assert gemini_calls(emulator_url) == len(answered)
    usage = read_usage(books, namespace, campaign)
    assert usage.spent_usd <= limit
    assert usage.reserved_usd == 0.0


def test_without_its_books_the_direct_path_does_not_pay(emulator_url: str, namespace: str) -> None:
    for direct in direct_analyzer(emulator_url, UNREACHABLE_REDIS, namespace):
        response = direct.analyze(query_for("c-no-books"), reason=REASON)
        assert response.status == "failed"
        assert (response.error or "").startswith(BOOKS_UNAVAILABLE)
        assert status_code(response) == 503  # retry: nothing was paid or answered
        assert gemini_calls(emulator_url) == 0


REDIS_BACK_AFTER_S = 1.0
"""A Redis restart: the books answer again this long after the first reservation try."""


def test_the_direct_path_waits_out_a_short_redis_restart(
    emulator_url: str, redis_url: str, namespace: str
) -> None:
    """The direct path answers when Kafka is in trouble, often with Redis restarting too: a
    second without its books must not turn the answer into `spend_unavailable`."""
    port = free_port()
    target = urlparse(redis_url)
    books_url = redis_url.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{port}")
    back, done = threading.Event(), threading.Event()

    def come_back() -> None:
        time.sleep(REDIS_BACK_AFTER_S)
        with forwarder(port, f"{target.hostname}:{target.port}"):
            back.set()
            done.wait(30)

    thread = threading.Thread(target=come_back, daemon=True)
    thread.start()
    try:
        for direct in direct_analyzer(emulator_url, books_url, namespace):
            response = direct.analyze(query_for("c-books-back"), reason=REASON)
            assert back.is_set()
            assert response.status == "completed", response.error
            assert gemini_calls(emulator_url) == 1
    finally:
        done.set()
        thread.join(5)

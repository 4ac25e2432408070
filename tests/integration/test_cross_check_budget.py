"""The scorer's cross-check pays from the campaign's budget, against the real Redis.

The second opinion is a paid call: it reserves its maximum cost before calling, settles
to the real cost after, and is skipped (with the reason) when the budget cannot cover it.
The provider is a test double (the Provider protocol); the books and `Once` are real.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import cast

import pytest
import redis

from core.attempt import completion_request
from providers.base import CompletionRequest, Provider, ProviderReply
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, GEMINI_PRO
from schemas.base import ProviderName
from schemas.completion import CompletionProduced
from schemas.parts import Answer
from schemas.query import QueryOptions, QueryRequested
from services.classifier.handler import classify
from services.common.once import Once
from services.common.redis_client import async_redis
from services.common.redis_keys import RedisKeys
from services.common.spend import SpendLedger, read_usage, set_monthly_limit
from services.common.spend_rules import BUDGET_EXHAUSTED, max_call_cost_usd
from services.scorer.cross_check import ProviderCrossCheck

SECOND = DEFAULT_CATALOGUE.get("gemini", GEMINI_FLASH)
TIMEOUT_S = 3.0
HANG_GUARD_S = 30.0
RESULT_TTL_S = 600
CONCURRENT_CHECKS = 40
CHECKS_THE_LIMIT_COVERS = 5


class CountingProvider:
    """Answers every call with the same usage; counts the calls it was paid for."""

    name: ProviderName = "gemini"
    emulated = True

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        self.calls += 1
        await asyncio.sleep(0.01)
        return ProviderReply(
            text="Turnout is up.", model=request.model, input_tokens=40, output_tokens=10,
            finish_reason="stop",
        )  # fmt: skip

    async def probe(self, timeout_s: float) -> None:
        return None


def completion_for(campaign: str, query_id: str | None = None) -> CompletionProduced:
    query = QueryRequested(
        query_id=query_id or uuid.uuid4().hex, query="Is turnout up in Maricopa?",
        campaign_id=campaign, options=QueryOptions(cross_validate=True),
    )  # fmt: skip
    classified = classify(query)
    return CompletionProduced(
        query=query, classification=classified.classification, route=classified.route,
        status="succeeded",
        answer=Answer(provider="gemini", model=GEMINI_PRO, text="Turnout is up.",
                      input_tokens=5, output_tokens=2, cost_usd=0.001, latency_ms=5),
    )  # fmt: skip


def max_cost(completion: CompletionProduced) -> float:
    return max_call_cost_usd(SECOND, completion_request(completion.query, SECOND, TIMEOUT_S))


Scenario = Callable[[ProviderCrossCheck], Awaitable[None]]


@pytest.fixture
def run_checks(redis_url: str, namespace: str) -> Callable[[CountingProvider, Scenario], None]:
    def run(provider: CountingProvider, scenario: Scenario) -> None:
        async def main() -> None:
            client = async_redis(redis_url, concurrency=CONCURRENT_CHECKS * 2)
            check = ProviderCrossCheck(
                providers={"gemini": cast(Provider, provider)}, second=SECOND, always=False,
                once=Once(redis=client, result_ttl_s=RESULT_TTL_S), keys=RedisKeys(namespace),
                timeout_s=TIMEOUT_S, ledger=SpendLedger(redis=client, namespace=namespace),
            )  # fmt: skip
            try:
                await asyncio.wait_for(scenario(check), HANG_GUARD_S)
            finally:
                await client.aclose()

        asyncio.run(main())

    return run


def test_a_cross_check_the_budget_cannot_cover_is_skipped_with_the_reason(
    run_checks: Callable[[CountingProvider, Scenario], None], books: redis.Redis, namespace: str
) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    completion = completion_for(campaign)
    set_monthly_limit(books, namespace, campaign, max_cost(completion) / 2)
    provider = CountingProvider()

    async def scenario(check: ProviderCrossCheck) -> None:
        outcome = await check.outcome(completion)
        assert outcome is not None and outcome.agreement is None
        assert outcome.skipped is not None and outcome.skipped.startswith(BUDGET_EXHAUSTED)
        component = outcome.skipped_component()
        assert component is not None and component.weight == 0.0
        assert BUDGET_EXHAUSTED in component.detail
        assert await check.check(completion) is None  # scored without agreement

    run_checks(provider, scenario)
    assert provider.calls == 0
    assert read_usage(books, namespace, campaign).spent_usd == 0.0


def test_a_cross_check_reserves_then_books_its_real_cost(
    run_checks: Callable[[CountingProvider, Scenario], None], books: redis.Redis, namespace: str
) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    completion = completion_for(campaign)
    set_monthly_limit(books, namespace, campaign, max_cost(completion) * 3)
    provider = CountingProvider()
    seen: list[tuple[float, float] | None] = []

    async def scenario(check: ProviderCrossCheck) -> None:
        seen.append(await check.check(completion))
        seen.append(await check.check(completion))  # a redelivery: neither called nor paid

    run_checks(provider, scenario)
    assert provider.calls == 1
    first, again = seen
    assert first is not None and first == again
    usage = read_usage(books, namespace, campaign)
    assert usage.spent_usd == pytest.approx(SECOND.cost_usd(40, 10), abs=1e-6)
    assert usage.reserved_usd == 0.0


def test_concurrent_cross_checks_never_spend_beyond_the_limit(
    run_checks: Callable[[CountingProvider, Scenario], None], books: redis.Redis, namespace: str
) -> None:
    campaign = f"c-{uuid.uuid4().hex[:8]}"
    completions = [completion_for(campaign) for _ in range(CONCURRENT_CHECKS)]
    limit = max_cost(completions[0]) * CHECKS_THE_LIMIT_COVERS + 1e-5  # micro-USD rounding
    set_monthly_limit(books, namespace, campaign, limit)
    provider = CountingProvider()
    outcomes: list[object] = []

    async def scenario(check: ProviderCrossCheck) -> None:
        outcomes.extend(await asyncio.gather(*(check.outcome(c) for c in completions)))

    run_checks(provider, scenario)
    assert len(outcomes) == CONCURRENT_CHECKS  # every check ended: checked or skipped
    assert provider.calls >= CHECKS_THE_LIMIT_COVERS
    assert provider.calls < CONCURRENT_CHECKS
    usage = read_usage(books, namespace, campaign)
    assert usage.spent_usd <= limit
    assert usage.reserved_usd == 0.0
    assert usage.spent_usd == pytest.approx(provider.calls * SECOND.cost_usd(40, 10), abs=1e-5)

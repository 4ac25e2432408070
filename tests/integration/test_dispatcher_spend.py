"""The dispatcher's walk against a campaign's spend limit: real Redis books, scripted providers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import pytest
import redis

from core.attempt import completion_request
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, LOCAL_MODEL, SONAR
from providers.errors import ServerError
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.parts import Classification, RouteStep
from schemas.query import QueryRequested
from services.common.redis_client import async_redis
from services.common.spend import SpendLedger, read_usage, set_monthly_limit
from services.common.spend_rules import BUDGET_EXHAUSTED
from services.common.spend_rules import max_call_cost_usd as max_cost_usd
from services.dispatcher.attempts import CANCELLED_KIND
from services.dispatcher.handler import Dispatcher
from services.dispatcher.inflight import InFlightAttempts
from services.dispatcher.route_walk import LOCAL_FOR_BUDGET, RouteLimits
from tests.unit.dispatcher_fakes import (
    TOPICS,
    Broker,
    Health,
    MemoryCache,
    MemoryLease,
    ScriptedProvider,
    completion_of,
)

CAMPAIGN = "campaign-b"
QUESTION = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
HANG_GUARD_S = 60.0
PAID_ROUTE = [
    RouteStep(provider="gemini", model=GEMINI_FLASH, reason="standard tier"),
    RouteStep(provider="perplexity", model=SONAR, reason="fallback"),
]
FLASH_REPLY_COST_USD = DEFAULT_CATALOGUE.get("gemini", GEMINI_FLASH).cost_usd(100, 200)
"""What ScriptedProvider's reply (100 tokens in, 200 out) costs on Gemini Flash."""


def _classified(query_id: str, route: Sequence[RouteStep], campaign: str = CAMPAIGN):
    return QueryClassified(
        query=QueryRequested(query_id=query_id, query=QUESTION, campaign_id=campaign),
        classification=Classification(
            complexity=0.5, needs_live_data=False, analysis_type="strategy", cost_sensitive=False
        ),
        route=list(route),
    )


def _flash_max_cost() -> float:
    spec = DEFAULT_CATALOGUE.get("gemini", GEMINI_FLASH)
    query = _classified("any", PAID_ROUTE).query
    return max_cost_usd(spec, completion_request(query, spec, 4.0))


DispatchOnce = Callable[..., CompletionProduced]


@pytest.fixture
def dispatch(redis_url: str, namespace: str) -> DispatchOnce:
    """Handle one classified query with a fresh dispatcher (fresh cache and lease: a new
    process) whose books are the real Redis ones."""

    def run(
        classified: QueryClassified,
        providers: Sequence[ScriptedProvider],
        *,
        health: Health | None = None,
        cap_s: float = 4.5,
        cancel_after_s: float | None = None,
    ) -> CompletionProduced:
        """`cancel_after_s`: the health stream marks gemini down that long after the start."""

        async def main() -> CompletionProduced:
            client = async_redis(redis_url, concurrency=4)
            inflight = InFlightAttempts()
            if cancel_after_s is not None:
                asyncio.get_running_loop().call_later(
                    cancel_after_s, inflight.cancel_provider, "gemini"
                )
            try:
                dispatcher = Dispatcher(
                    providers={p.name: p for p in providers},  # type: ignore[misc]
                    catalogue=DEFAULT_CATALOGUE,
                    health=health or Health(),
                    cache=MemoryCache(),
                    lease=MemoryLease(),
                    publish=Broker().publish,
                    topics=TOPICS,
                    limits=RouteLimits(attempt_timeout_cap_s=cap_s, route_deadline_s=10.0),
                    ledger=SpendLedger(redis=client, namespace=namespace),
                    inflight=inflight,
                )
                return completion_of(await dispatcher.handle(classified))
            finally:
                await client.aclose()

        return asyncio.run(asyncio.wait_for(main(), HANG_GUARD_S))

    return run


def _providers() -> list[ScriptedProvider]:
    return [ScriptedProvider("gemini"), ScriptedProvider("perplexity"), ScriptedProvider("local")]


def test_a_paid_answer_is_booked_at_its_real_cost_and_the_rest_is_on_the_completion(
    dispatch: DispatchOnce, books: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(books, namespace, CAMPAIGN, 1.0)
    completion = dispatch(_classified("q1", PAID_ROUTE), _providers())
    assert completion.answer is not None and completion.answer.provider == "gemini"
    usage = read_usage(books, namespace, CAMPAIGN)
    assert usage.spent_usd == pytest.approx(FLASH_REPLY_COST_USD, abs=1e-6)
    assert usage.reserved_usd == 0.0
    assert completion.budget_remaining_usd == usage.remaining_usd
    assert completion.budget_remaining_usd == pytest.approx(1.0 - FLASH_REPLY_COST_USD, abs=1e-6)


def test_over_the_limit_the_local_model_answers_as_an_added_step_with_its_reason(
    dispatch: DispatchOnce, books: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(books, namespace, CAMPAIGN, _flash_max_cost() / 2)
    providers = _providers()
    completion = dispatch(_classified("q1", PAID_ROUTE), providers)
    assert completion.answer is not None and completion.answer.provider == "local"
    assert [(a.provider, a.outcome, a.error_kind) for a in completion.attempts] == [
        ("gemini", "skipped", BUDGET_EXHAUSTED),
        ("perplexity", "skipped", BUDGET_EXHAUSTED),
        ("local", "success", None),
    ]
    assert completion.route[-1] == RouteStep(
        provider="local", model=LOCAL_MODEL, reason=LOCAL_FOR_BUDGET
    )
    assert [len(p.calls) for p in providers] == [0, 0, 1]
    assert read_usage(books, namespace, CAMPAIGN).spent_usd == 0.0
    assert completion.budget_remaining_usd == pytest.approx(_flash_max_cost() / 2, abs=1e-6)


def test_over_the_limit_without_a_usable_local_model_it_fails_budget_exhausted(
    dispatch: DispatchOnce, books: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(books, namespace, CAMPAIGN, 0.0)
    completion = dispatch(
        _classified("q1", PAID_ROUTE), _providers(), health=Health(down={"local"})
    )
    assert completion.status == "failed"
    assert completion.error is not None and completion.error.startswith(BUDGET_EXHAUSTED)
    assert completion.budget_remaining_usd == 0.0


def test_a_timed_out_attempt_is_booked_at_its_maximum_cost(
    dispatch: DispatchOnce, books: redis.Redis, namespace: str
) -> None:
    set_monthly_limit(books, namespace, CAMPAIGN, 1.0)
    providers = [ScriptedProvider("gemini", hang=True), ScriptedProvider("local")]
    route = [PAID_ROUTE[0], RouteStep(provider="local", model=LOCAL_MODEL, reason="last")]
    completion = dispatch(_classified("q1", route), providers, cap_s=0.6)
    assert completion.attempts[0].outcome == "timeout"
    spec = DEFAULT_CATALOGUE.get("gemini", GEMINI_FLASH)
    timed_out_max = max_cost_usd(spec, completion_request(completion.query, spec, 0.6))
    usage = read_usage(books, namespace, CAMPAIGN)
    assert usage.spent_usd == pytest.approx(timed_out_max, abs=1e-6)
    assert usage.reserved_usd == 0.0


def test_a_query_redone_by_a_new_process_books_the_second_call_too(
    dispatch: DispatchOnce, books: redis.Redis, namespace: str
) -> None:
    """A crash after the paid call but before the completion was cached: the redelivery
    calls the provider again under the same attempt id; both calls were billed."""
    set_monthly_limit(books, namespace, CAMPAIGN, 1.0)
    dispatch(_classified("q1", PAID_ROUTE), _providers())
    dispatch(_classified("q1", PAID_ROUTE), _providers())
    spent = read_usage(books, namespace, CAMPAIGN).spent_usd
    assert spent == pytest.approx(2 * FLASH_REPLY_COST_USD, abs=2e-6)


def test_a_campaign_without_a_limit_is_never_refused_and_its_spend_is_visible(
    dispatch: DispatchOnce, books: redis.Redis, namespace: str
) -> None:
    completion = dispatch(_classified("q1", PAID_ROUTE), _providers())
    assert completion.answer is not None and completion.answer.provider == "gemini"
    assert completion.budget_remaining_usd is None
    usage = read_usage(books, namespace, CAMPAIGN)
    assert usage.spent_usd == pytest.approx(FLASH_REPLY_COST_USD, abs=1e-6)
    assert (usage.limit_usd, usage.reserved_usd) == (None, 0.0)


def test_an_attempt_cancelled_by_a_down_event_is_booked_like_a_timeout(
    dispatch: DispatchOnce, books: redis.Redis, namespace: str
) -> None:
    """The provider may have done (and billed) the work we stopped waiting for."""
    set_monthly_limit(books, namespace, CAMPAIGN, 1.0)
    providers = [ScriptedProvider("gemini", hang=True), ScriptedProvider("perplexity")]
    completion = dispatch(_classified("q1", PAID_ROUTE), providers, cancel_after_s=0.3)
    assert [(a.provider, a.outcome, a.error_kind) for a in completion.attempts] == [
        ("gemini", "timeout", CANCELLED_KIND), ("perplexity", "success", None)
    ]
    usage = read_usage(books, namespace, CAMPAIGN)
    sonar_reply = DEFAULT_CATALOGUE.get("perplexity", SONAR).cost_usd(100, 200)
    assert usage.spent_usd == pytest.approx(_flash_max_cost() + sonar_reply, abs=1e-6)
    assert usage.reserved_usd == 0.0


def test_each_retry_of_the_same_model_is_its_own_reservation(
    dispatch: DispatchOnce, books: redis.Redis, namespace: str
) -> None:
    """A 500 then an answer: two paid attempts, two reservations, the error costs nothing."""
    set_monthly_limit(books, namespace, CAMPAIGN, 1.0)
    gemini = ScriptedProvider("gemini", errors=[ServerError("gemini", "500", 500)])
    completion = dispatch(_classified("q1", PAID_ROUTE), [gemini, ScriptedProvider("perplexity")])
    assert [(a.model, a.outcome) for a in completion.attempts] == [
        (GEMINI_FLASH, "error"), (GEMINI_FLASH, "success")
    ]
    usage = read_usage(books, namespace, CAMPAIGN)
    assert usage.spent_usd == pytest.approx(FLASH_REPLY_COST_USD, abs=1e-6)
    assert usage.reserved_usd == 0.0

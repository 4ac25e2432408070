"""Dispatcher logic with test-double providers, cache, lease and broker."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from core.response import explain
from providers.errors import BadRequest, ProviderUnavailable
from schemas.attempt import ProviderAttempt
from schemas.parts import Answer, AttemptSummary, Confidence
from schemas.query import Escalation, QueryRequested
from services.classifier.handler import classify
from services.common.failures import Action, decide_failure
from services.common.producer import DeliveryError
from tests.unit.dispatcher_fakes import (
    TOPICS,
    Broker,
    Health,
    MemoryCache,
    MemoryLease,
    ScriptedProvider,
    catalogue_with,
    completion_of,
    make_dispatcher,
)

COMPLEX = classify(
    QueryRequested(
        query_id="q1",
        query="Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
    )
)


def _three(**gemini) -> list[ScriptedProvider]:
    return [ScriptedProvider("gemini", **gemini), ScriptedProvider("perplexity"),
            ScriptedProvider("local")]


def test_primary_answers_with_cost_from_usage() -> None:
    providers = _three()
    out = asyncio.run(make_dispatcher(providers).handle(COMPLEX))
    completion = completion_of(out)
    assert completion.status == "succeeded"
    assert completion.answer.provider == "gemini" and completion.answer.model == "gemini-2.5-pro"
    assert completion.answer.cost_usd == pytest.approx(100 * 1.25e-6 + 200 * 10e-6)
    assert [o.topic for o in out] == [TOPICS.provider_attempts, TOPICS.completions]


def test_the_provider_s_stated_service_time_reaches_the_attempt_event_and_the_completion() -> None:
    """Overhead is measured against what the provider says it spent, not the dispatcher's
    own (queue-inflated) view, on the attempts topic as on the response."""
    gemini = ScriptedProvider("gemini", service_ms=12.5)
    out = asyncio.run(
        make_dispatcher([gemini, ScriptedProvider("perplexity"), ScriptedProvider("local")])
        .handle(COMPLEX)
    )
    [attempt] = [o.event for o in out if o.topic == TOPICS.provider_attempts]
    assert isinstance(attempt, ProviderAttempt) and attempt.provider_service_ms == 12.5
    assert completion_of(out).attempts[0].provider_service_ms == 12.5


def test_every_call_is_announced_to_the_broker_before_it_is_made() -> None:
    broker = Broker()
    gemini = ScriptedProvider("gemini", error=ProviderUnavailable("gemini", "503"),
                              published=broker.sent)
    perplexity = ScriptedProvider("perplexity", published=broker.sent)
    out = asyncio.run(
        make_dispatcher([gemini, perplexity, ScriptedProvider("local")], broker=broker)
        .handle(COMPLEX)
    )
    started = broker.attempts()
    # a 503 is retried once on the same model, as its own attempt, then the fallback
    assert [(a.provider, a.outcome) for a in started] == [("gemini", "started"),
                                                          ("gemini", "started"),
                                                          ("perplexity", "started")]
    # each call happened only after its own `started` event was acknowledged
    assert gemini.published_at_call == [1, 2] and perplexity.published_at_call == [3]
    finished = [o.event for o in out if o.topic == TOPICS.provider_attempts]
    assert [(a.attempt_id, a.outcome) for a in finished] == [("q1:1", "error"),
                                                             ("q1:2", "error"),
                                                             ("q1:3", "success")]
    assert [a.attempt_id for a in started] == ["q1:1", "q1:2", "q1:3"]


def test_attempt_events_are_keyed_by_provider_and_ids_repeat_on_redelivery() -> None:
    broker = Broker()
    providers = [ScriptedProvider("gemini", error=ProviderUnavailable("gemini", "503")),
                 ScriptedProvider("perplexity"), ScriptedProvider("local")]
    dispatcher = make_dispatcher(providers, broker=broker, cache=MemoryCache())
    first = asyncio.run(dispatcher.handle(COMPLEX))
    attempts = [o for o in [*broker.sent, *first] if o.topic == TOPICS.provider_attempts]
    assert all(o.key == o.event.provider for o in attempts)
    assert {o.key for o in attempts} == {"gemini", "perplexity"}
    # a redelivery that must dispatch again (nothing cached) reuses the same attempt ids
    again = make_dispatcher(providers, broker=Broker())
    second = asyncio.run(again.handle(COMPLEX))
    ids = [o.event.attempt_id for o in second if isinstance(o.event, ProviderAttempt)]
    assert ids == [o.event.attempt_id for o in first if isinstance(o.event, ProviderAttempt)]


def test_fails_over_to_next_provider_and_records_every_attempt() -> None:
    providers = _three(error=ProviderUnavailable("gemini", "503"))
    out = asyncio.run(make_dispatcher(providers).handle(COMPLEX))
    completion = completion_of(out)
    assert completion.answer.provider == "perplexity"
    assert [a.outcome for a in completion.attempts] == ["error", "error", "success"]
    assert completion.attempts[0].error_kind == "unavailable"
    assert sum(1 for o in out if o.topic == TOPICS.provider_attempts) == 3


def test_a_hung_provider_is_abandoned_at_its_first_token_limit_and_called_once() -> None:
    providers = _three(hang=True)
    catalogue = catalogue_with({"gemini-2.5-pro": {"first_token_timeout_s": 0.6}})
    dispatcher = make_dispatcher(providers, catalogue=catalogue)
    out = asyncio.run(asyncio.wait_for(dispatcher.handle(COMPLEX), timeout=5))
    completion = completion_of(out)
    assert completion.attempts[0].outcome == "timeout"
    assert completion.attempts[0].error_kind == "first_token_timeout"
    assert completion.attempts[0].latency_ms < 1500
    assert len(providers[0].calls) == 1  # a silent model is never called again
    assert providers[0].calls[0].first_token_timeout_s == pytest.approx(0.6)
    assert completion.answer.provider == "perplexity"


def test_a_non_streaming_hosted_model_is_still_capped() -> None:
    catalogue = catalogue_with({"gemini-2.5-pro": {"first_token_timeout_s": None}})
    dispatcher = make_dispatcher(_three(hang=True), cap=0.6, catalogue=catalogue)
    out = asyncio.run(asyncio.wait_for(dispatcher.handle(COMPLEX), timeout=5))
    completion = completion_of(out)
    assert completion.attempts[0].outcome == "timeout"
    assert completion.attempts[0].latency_ms < 1500
    assert completion.answer.provider == "perplexity"


def test_provider_marked_down_is_never_called() -> None:
    providers = _three()
    out = asyncio.run(make_dispatcher(providers, health=Health({"gemini"})).handle(COMPLEX))
    completion = completion_of(out)
    assert providers[0].calls == []
    assert completion.attempts[0].outcome == "skipped"
    assert completion.answer.provider == "perplexity"


def test_when_every_step_is_marked_down_the_last_is_tried_anyway_and_said_so() -> None:
    providers = _three()
    everyone = Health({"gemini", "perplexity", "local"})
    completion = completion_of(
        asyncio.run(make_dispatcher(providers, health=everyone).handle(COMPLEX))
    )
    assert [len(p.calls) for p in providers] == [0, 0, 1]
    assert completion.status == "succeeded" and completion.answer.provider == "local"
    explanation = explain(path="intelligent", classification=completion.classification,
                          route=completion.route, attempts=completion.attempts,
                          answer=completion.answer)
    assert "local/local-gguf is tried anyway" in explanation


def test_when_every_step_is_down_and_the_last_fails_the_error_says_it_was_tried() -> None:
    providers = [ScriptedProvider("gemini"), ScriptedProvider("perplexity"),
                 ScriptedProvider("local", error=ProviderUnavailable("local", "refused"))]
    everyone = Health({"gemini", "perplexity", "local"})
    completion = completion_of(
        asyncio.run(make_dispatcher(providers, health=everyone).handle(COMPLEX))
    )
    assert completion.status == "failed"
    assert "tried local/local-gguf anyway" in completion.error and "refused" in completion.error


def test_a_provider_specific_bad_request_fails_over() -> None:
    providers = _three(error=BadRequest("gemini", "unsupported parameter: thinking_budget"))
    completion = completion_of(asyncio.run(make_dispatcher(providers).handle(COMPLEX)))
    assert completion.status == "succeeded" and completion.answer.provider == "perplexity"
    assert completion.attempts[0].error_kind == "bad_request"


def test_a_query_no_provider_can_take_stops_before_any_call() -> None:
    blank = COMPLEX.model_copy(
        update={"query": QueryRequested(query_id="q-blank", query="   \n\t ")}
    )
    providers = _three()
    broker = Broker()
    out = asyncio.run(make_dispatcher(providers, broker=broker).handle(blank))
    completion = completion_of(out)
    assert completion.status == "failed" and "blank" in completion.error
    assert all(p.calls == [] for p in providers) and broker.sent == []


def test_redelivered_query_is_not_paid_for_twice() -> None:
    providers = _three()
    dispatcher = make_dispatcher(providers, cache=MemoryCache())
    first = completion_of(asyncio.run(dispatcher.handle(COMPLEX)))
    second_out = asyncio.run(dispatcher.handle(COMPLEX))
    assert len(providers[0].calls) == 1
    assert completion_of(second_out) == first
    assert len(second_out) == 1


def test_a_failed_cache_read_is_an_error_to_retry_not_a_miss() -> None:
    down = RedisConnectionError("Connection closed by server.")
    providers = _three()
    dispatcher = make_dispatcher(providers, cache=MemoryCache(fail_reads=down))
    with pytest.raises(RedisConnectionError) as raised:
        asyncio.run(dispatcher.handle(COMPLEX))
    assert all(p.calls == [] for p in providers)
    assert decide_failure(raised.value, 1).action is Action.RETRY


def test_a_failed_cache_write_is_retried_without_paying_again() -> None:
    cache = MemoryCache()
    cache.fail_writes = RedisConnectionError("Too many connections")
    providers = _three()
    lease = MemoryLease()
    dispatcher = make_dispatcher(providers, cache=cache, lease=lease)
    with pytest.raises(RedisConnectionError) as raised:
        asyncio.run(dispatcher.handle(COMPLEX))
    assert decide_failure(raised.value, 1).action is Action.RETRY
    cache.fail_writes = None  # Redis is back; the worker retries the message
    retried = completion_of(asyncio.run(dispatcher.handle(COMPLEX)))
    assert retried.status == "succeeded"
    assert len(providers[0].calls) == 1
    assert cache.items["q1"] == retried


def test_a_second_delivery_waits_for_the_first_instead_of_paying_again() -> None:
    providers = _three(delay_s=0.3)
    cache, lease = MemoryCache(), MemoryLease()
    first = make_dispatcher(providers, cache=cache, lease=lease)
    second = make_dispatcher(providers, cache=cache, lease=lease)

    async def both():
        return await asyncio.gather(first.handle(COMPLEX), second.handle(COMPLEX))

    a, b = asyncio.run(asyncio.wait_for(both(), timeout=10))
    assert len(providers[0].calls) == 1
    assert completion_of(a) == completion_of(b)
    assert lease.holders == {}


def test_an_unacknowledged_announcement_stops_before_the_call_and_frees_the_lease() -> None:
    providers = _three()
    lease = MemoryLease()
    dispatcher = make_dispatcher(
        providers, lease=lease, broker=Broker(fail=DeliveryError("broker away"))
    )
    with pytest.raises(DeliveryError):
        asyncio.run(dispatcher.handle(COMPLEX))
    assert all(p.calls == [] for p in providers)
    assert lease.holders == {}


def test_an_escalated_round_s_attempts_name_the_analysis_they_serve() -> None:
    """The round travels under a derived query id; audit and the recorder join its calls to
    the analysis through `analysis_id`."""
    escalated = COMPLEX.model_copy(update={"query": COMPLEX.query.model_copy(
        update={"query_id": "derived-q1", "escalation": _escalation("q1")})})
    broker = Broker()
    out = asyncio.run(make_dispatcher(_three(), broker=broker).handle(escalated))
    attempts = [o.event for o in [*broker.sent, *out] if isinstance(o.event, ProviderAttempt)]
    assert attempts and {(a.query_id, a.analysis_id) for a in attempts} == {("derived-q1", "q1")}
    plain = asyncio.run(make_dispatcher(_three()).handle(COMPLEX))
    assert {o.event.analysis_id for o in plain if isinstance(o.event, ProviderAttempt)} == {"q1"}


def _escalation(analysis_id: str) -> Escalation:
    return Escalation(
        analysis_id=analysis_id, reason="unsure",
        set_aside=AttemptSummary(provider="gemini", model="gemini-2.5-flash", outcome="success"),
        answer=Answer(provider="gemini", model="gemini-2.5-flash", text="guess", input_tokens=1,
                      output_tokens=1, cost_usd=0.0, latency_ms=1.0),
        confidence=Confidence(score=0.2, components={}),
    )


class _LapsedLease(MemoryLease):
    """A lease whose holder lost it (a Redis outage longer than its TTL): free again."""

    async def acquire(self, query_id: str) -> str | None:
        self.holders.pop(query_id, None)
        return await super().acquire(query_id)


def test_a_redelivery_in_the_same_process_waits_for_the_first_even_when_the_lease_lapsed() -> None:
    """After a broker restart, uncommitted messages come back while their first delivery
    still works; a Redis restart meanwhile let the lease lapse. One provider call only."""
    providers = _three(delay_s=0.3)
    dispatcher = make_dispatcher(providers, cache=MemoryCache(), lease=_LapsedLease())

    async def both():
        return await asyncio.gather(dispatcher.handle(COMPLEX), dispatcher.handle(COMPLEX))

    a, b = asyncio.run(asyncio.wait_for(both(), timeout=10))
    assert len(providers[0].calls) == 1
    assert completion_of(a) == completion_of(b)


class _FlakyLease(MemoryLease):
    """Redis drops the first acquire, after a moment (the first delivery will be retried)."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    async def acquire(self, query_id: str) -> str | None:
        if not self.failed:
            self.failed = True
            await asyncio.sleep(0.2)
            raise RedisConnectionError("Connection closed by server.")
        return await super().acquire(query_id)


def test_a_redelivery_dispatches_itself_when_the_first_delivery_failed() -> None:
    providers = _three()
    dispatcher = make_dispatcher(providers, cache=MemoryCache(), lease=_FlakyLease())

    async def both():
        first = asyncio.create_task(dispatcher.handle(COMPLEX))
        await asyncio.sleep(0.05)
        second = asyncio.create_task(dispatcher.handle(COMPLEX))
        return await asyncio.gather(first, second, return_exceptions=True)

    first, second = asyncio.run(asyncio.wait_for(both(), timeout=10))
    assert isinstance(first, RedisConnectionError)
    assert completion_of(second).status == "succeeded"
    assert len(providers[0].calls) == 1

"""Dispatcher logic with test-double providers (the Protocol gives them for free)."""

from __future__ import annotations

import asyncio

import pytest

from providers.base import CompletionRequest, ProviderReply, SourceRef
from providers.catalogue import DEFAULT_CATALOGUE
from providers.errors import BadRequest, ProviderError, ProviderUnavailable
from schemas.completion import CompletionProduced
from schemas.query import QueryRequested
from schemas.topics import TopicNames
from services.classifier.handler import classify
from services.dispatcher.handler import Dispatcher

TOPICS = TopicNames("unit")


class ScriptedProvider:
    """Answers, fails with a given error, or hangs; records every call."""

    emulated = True

    def __init__(self, name: str, *, error: ProviderError | None = None, hang: bool = False):
        self.name = name
        self.error = error
        self.hang = hang
        self.calls: list[CompletionRequest] = []

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        self.calls.append(request)
        if self.hang:
            await asyncio.sleep(60)
        if self.error is not None:
            raise self.error
        return ProviderReply(
            text=f"answer from {self.name}",
            model=request.model,
            input_tokens=100,
            output_tokens=200,
            finish_reason="stop",
            citations=(SourceRef(url="https://apnews.com/a"),),
        )

    async def probe(self, timeout_s: float) -> None:
        return None

    async def aclose(self) -> None:
        return None


class Health:
    def __init__(self, down: set[str] | None = None) -> None:
        self.down = down or set()

    def is_down(self, provider: str) -> bool:
        return provider in self.down


class MemoryCache:
    def __init__(self) -> None:
        self.items: dict[str, CompletionProduced] = {}

    async def get(self, query_id: str) -> CompletionProduced | None:
        return self.items.get(query_id)

    async def put(self, completion: CompletionProduced) -> None:
        self.items[completion.query.query_id] = completion


def _dispatcher(providers, health=None, cache=None, cap=4.5) -> Dispatcher:
    return Dispatcher(
        providers={p.name: p for p in providers},
        catalogue=DEFAULT_CATALOGUE,
        health=health or Health(),
        cache=cache or MemoryCache(),
        topics=TOPICS,
        attempt_timeout_cap_s=cap,
    )


COMPLEX = classify(
    QueryRequested(
        query_id="q1",
        query="Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
    )
)


def _completion(outgoing) -> CompletionProduced:
    assert outgoing[-1].topic == TOPICS.completions
    return outgoing[-1].event


def test_primary_answers_with_cost_from_usage() -> None:
    gemini = ScriptedProvider("gemini")
    out = asyncio.run(
        _dispatcher([gemini, ScriptedProvider("perplexity"), ScriptedProvider("local")]).handle(
            COMPLEX
        )
    )
    completion = _completion(out)
    assert completion.status == "succeeded"
    assert completion.answer.provider == "gemini" and completion.answer.model == "gemini-2.5-pro"
    assert completion.answer.cost_usd == pytest.approx(100 * 1.25e-6 + 200 * 10e-6)
    assert [o.topic for o in out] == [TOPICS.provider_attempts, TOPICS.completions]


def test_fails_over_to_next_provider_and_records_every_attempt() -> None:
    gemini = ScriptedProvider("gemini", error=ProviderUnavailable("gemini", "503"))
    perplexity = ScriptedProvider("perplexity")
    out = asyncio.run(_dispatcher([gemini, perplexity, ScriptedProvider("local")]).handle(COMPLEX))
    completion = _completion(out)
    assert completion.answer.provider == "perplexity"
    assert [a.outcome for a in completion.attempts] == ["error", "success"]
    assert completion.attempts[0].error_kind == "unavailable"
    assert sum(1 for o in out if o.topic == TOPICS.provider_attempts) == 2


def test_a_hung_provider_is_abandoned_within_the_timeout_cap() -> None:
    gemini = ScriptedProvider("gemini", hang=True)
    dispatcher = _dispatcher(
        [gemini, ScriptedProvider("perplexity"), ScriptedProvider("local")], cap=0.3
    )
    out = asyncio.run(asyncio.wait_for(dispatcher.handle(COMPLEX), timeout=5))
    completion = _completion(out)
    assert completion.attempts[0].outcome == "timeout"
    assert completion.attempts[0].latency_ms < 1000
    assert completion.answer.provider == "perplexity"


def test_provider_marked_down_is_never_called() -> None:
    gemini = ScriptedProvider("gemini")
    out = asyncio.run(
        _dispatcher(
            [gemini, ScriptedProvider("perplexity"), ScriptedProvider("local")],
            health=Health({"gemini"}),
        ).handle(COMPLEX)
    )
    completion = _completion(out)
    assert gemini.calls == []
    assert completion.attempts[0].outcome == "skipped"
    assert completion.answer.provider == "perplexity"


def test_all_down_fails_with_a_reason_and_calls_nobody() -> None:
    providers = [ScriptedProvider(n) for n in ("gemini", "perplexity", "local")]
    out = asyncio.run(
        _dispatcher(providers, health=Health({"gemini", "perplexity", "local"})).handle(COMPLEX)
    )
    completion = _completion(out)
    assert completion.status == "failed" and "marked down" in completion.error
    assert all(p.calls == [] for p in providers)


def test_bad_request_stops_the_route() -> None:
    gemini = ScriptedProvider("gemini", error=BadRequest("gemini", "invalid argument"))
    perplexity = ScriptedProvider("perplexity")
    completion = _completion(
        asyncio.run(_dispatcher([gemini, perplexity, ScriptedProvider("local")]).handle(COMPLEX))
    )
    assert completion.status == "failed" and perplexity.calls == []


def test_redelivered_query_is_not_paid_for_twice() -> None:
    gemini = ScriptedProvider("gemini")
    cache = MemoryCache()
    dispatcher = _dispatcher(
        [gemini, ScriptedProvider("perplexity"), ScriptedProvider("local")], cache=cache
    )
    first = _completion(asyncio.run(dispatcher.handle(COMPLEX)))
    second_out = asyncio.run(dispatcher.handle(COMPLEX))
    assert len(gemini.calls) == 1
    assert _completion(second_out) == first
    assert len(second_out) == 1

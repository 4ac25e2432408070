"""The route walk, fault by fault, with scripted providers (no network)."""

from __future__ import annotations

import asyncio
import threading
import time

from providers.errors import ContentBlocked, ContextTooLong, ServerError
from providers.limits import FIRST_TOKEN_FLOOR_S, MIN_SAMPLES
from schemas.classified import QueryClassified
from schemas.parts import Classification
from schemas.query import QueryOptions, QueryRequested
from services.classifier.handler import classify
from services.classifier.model_route import build_route
from services.dispatcher.attempts import CANCELLED_KIND
from services.dispatcher.circuits import CircuitBoard
from services.dispatcher.inflight import InFlightAttempts
from tests.unit.dispatcher_fakes import (
    Broker,
    Health,
    ScriptedProvider,
    catalogue_with,
    completion_of,
    make_dispatcher,
)

HANG_GUARD_S = 10.0


def _complex(query_id: str = "q1") -> QueryClassified:
    return classify(QueryRequested(
        query_id=query_id,
        query="Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
    ))


def _simple(query_id: str = "s1") -> QueryClassified:
    cheap = Classification(
        complexity=0.1, needs_live_data=False, analysis_type="editing", cost_sensitive=True
    )
    return QueryClassified(
        query=QueryRequested(query_id=query_id, query="Fix the typo in: our canidate"),
        classification=cheap,
        route=build_route(cheap, QueryOptions()),
    )


def _run(dispatcher, classified: QueryClassified):
    return completion_of(asyncio.run(asyncio.wait_for(dispatcher.handle(classified), HANG_GUARD_S)))


def test_a_500_once_is_retried_and_the_same_model_answers() -> None:
    gemini = ScriptedProvider("gemini", errors=[ServerError("gemini", "500 internal", 500)])
    completion = _run(make_dispatcher([gemini, ScriptedProvider("perplexity")]), _complex())
    assert [(a.model, a.outcome, a.error_kind) for a in completion.attempts] == [
        ("gemini-2.5-pro", "error", "server_error"), ("gemini-2.5-pro", "success", None)
    ]
    assert completion.answer.model == "gemini-2.5-pro"


def test_a_500_every_time_is_tried_twice_then_the_fallback_names_itself() -> None:
    gemini = ScriptedProvider("gemini", error=ServerError("gemini", "500 internal", 500))
    completion = _run(make_dispatcher([gemini, ScriptedProvider("perplexity")]), _complex())
    assert [a.provider for a in completion.attempts] == ["gemini", "gemini", "perplexity"]
    assert (completion.answer.provider, completion.answer.model) == ("perplexity", "sonar-pro")


def test_content_blocked_returns_the_error_and_calls_no_fallback() -> None:
    gemini = ScriptedProvider("gemini", error=ContentBlocked("gemini", "blocked: SAFETY"))
    perplexity = ScriptedProvider("perplexity")
    completion = _run(make_dispatcher([gemini, perplexity]), _complex())
    assert completion.status == "failed" and completion.answer is None
    assert len(gemini.calls) == 1 and perplexity.calls == []
    assert completion.error.startswith("content_blocked:") and "SAFETY" in completion.error


def test_context_too_long_on_the_local_model_goes_to_a_larger_window() -> None:
    local = ScriptedProvider("local", error=ContextTooLong("local", "exceeds 2048 tokens"))
    gemini = ScriptedProvider("gemini")
    completion = _run(make_dispatcher([local, gemini, ScriptedProvider("perplexity")]), _simple())
    assert len(local.calls) == 1  # never resent unchanged to the model that refused it
    assert completion.answer.model == "gemini-2.5-flash"


def test_context_too_long_skips_every_fallback_whose_window_is_not_larger() -> None:
    gemini = ScriptedProvider("gemini", error=ContextTooLong("gemini", "input exceeds 1M"))
    perplexity, local = ScriptedProvider("perplexity"), ScriptedProvider("local")
    completion = _run(make_dispatcher([gemini, perplexity, local]), _complex())
    assert len(gemini.calls) == 1 and perplexity.calls == [] and local.calls == []
    assert completion.status == "failed"
    assert [(a.model, a.outcome, a.error_kind) for a in completion.attempts] == [
        ("gemini-2.5-pro", "error", "context_too_long"),
        ("sonar-pro", "skipped", "context_too_long"),
        ("gemini-2.5-flash", "skipped", "context_too_long"),
        ("local-gguf", "skipped", "context_too_long"),
    ]


def test_an_open_circuit_sends_traffic_to_the_fallback_and_a_probe_brings_it_back() -> None:
    gemini = ScriptedProvider("gemini", error=ServerError("gemini", "503", 503))
    circuits = CircuitBoard(failures_to_open=2)
    catalogue = catalogue_with({"gemini-2.5-pro": {"cooldown_s": 0.5}})  # the open interval
    dispatcher = make_dispatcher([gemini, ScriptedProvider("perplexity")], circuits=circuits,
                                 catalogue=catalogue)
    first = _run(dispatcher, _complex("q1"))  # two 503s: the circuit opens
    assert first.answer.provider == "perplexity" and len(gemini.calls) == 2
    second = _run(dispatcher, _complex("q2"))
    assert second.attempts[0].error_kind == "circuit_open" and len(gemini.calls) == 2
    assert second.answer.provider == "perplexity"
    gemini.errors = []  # the provider recovers
    time.sleep(0.6)
    third = _run(dispatcher, _complex("q3"))  # the probe: a real query
    assert third.answer.model == "gemini-2.5-pro"
    fourth = _run(dispatcher, _complex("q4"))
    assert fourth.answer.model == "gemini-2.5-pro" and fourth.attempts[0].outcome == "success"


def test_a_down_event_cancels_attempts_in_flight_and_their_fallbacks_answer_at_once() -> None:
    hung = ScriptedProvider("gemini", hang=True)
    inflight = InFlightAttempts()
    health = Health()
    broker = Broker()
    catalogue = catalogue_with({"gemini-2.5-pro": {"first_token_timeout_s": 8.0}})
    dispatcher = make_dispatcher([hung, ScriptedProvider("perplexity")], health=health,
                                 inflight=inflight, catalogue=catalogue, broker=broker)
    marked_down_at: list[float] = []

    def health_says_down() -> None:  # the status feed's thread
        while inflight.count("gemini") < 3:
            time.sleep(0.01)
        health.down.add("gemini")
        marked_down_at.append(time.monotonic())
        inflight.cancel_provider("gemini")

    async def three() -> list:
        return await asyncio.gather(*(dispatcher.handle(_complex(f"q{i}")) for i in range(3)))

    threading.Thread(target=health_says_down, daemon=True).start()
    outs = asyncio.run(asyncio.wait_for(three(), HANG_GUARD_S))
    answered_at = time.monotonic()
    assert answered_at - marked_down_at[0] < 1.0
    for out in outs:
        completion = completion_of(out)
        assert completion.answer.provider == "perplexity"
        cancelled = completion.attempts[0]
        assert (cancelled.provider, cancelled.outcome, cancelled.error_kind) == (
            "gemini", "timeout", CANCELLED_KIND
        )
        assert cancelled.latency_ms < 8000
    assert len(hung.calls) == 3  # one each, never again


def test_a_cancelled_attempt_is_on_record_like_a_timeout() -> None:
    hung = ScriptedProvider("gemini", hang=True)
    inflight = InFlightAttempts()
    catalogue = catalogue_with({"gemini-2.5-pro": {"first_token_timeout_s": 8.0}})
    dispatcher = make_dispatcher([hung, ScriptedProvider("perplexity")], inflight=inflight,
                                 catalogue=catalogue)

    async def go():
        task = asyncio.create_task(dispatcher.handle(_complex()))
        await asyncio.sleep(0.3)
        inflight.cancel_provider("gemini")
        return await task

    out = asyncio.run(asyncio.wait_for(go(), HANG_GUARD_S))
    events = [o.event for o in out[:-1]]
    assert [(e.attempt_id, e.outcome, e.error_kind) for e in events] == [
        ("q1:1", "timeout", CANCELLED_KIND), ("q1:2", "success", None)
    ]


def test_after_enough_answers_a_hang_is_left_at_the_limit_derived_from_observed_latency() -> None:
    gemini = ScriptedProvider("gemini")
    dispatcher = make_dispatcher([gemini, ScriptedProvider("perplexity")])
    for i in range(MIN_SAMPLES):
        assert _run(dispatcher, _complex(f"w{i}")).answer.provider == "gemini"
    gemini.hang = True
    started = time.monotonic()
    completion = _run(dispatcher, _complex("hung"))
    assert completion.answer.provider == "perplexity"
    # the catalogue's ceiling (45 s, budget-cut to ~11 s) narrowed to the floor
    assert gemini.calls[-1].first_token_timeout_s == FIRST_TOKEN_FLOOR_S
    assert time.monotonic() - started < FIRST_TOKEN_FLOOR_S + 1.0

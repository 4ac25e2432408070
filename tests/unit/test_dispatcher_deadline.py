"""Every route fits the app's synchronous deadline, and a slow step cannot starve the rest."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from providers.catalogue import DEFAULT_CATALOGUE
from schemas.classified import QueryClassified
from schemas.parts import TIERS, Classification
from schemas.query import QueryOptions, QueryRequested
from services.classifier.model_route import build_route, tier_for
from services.dispatcher.deadline import (
    MIN_ATTEMPT_S,
    StepLimits,
    attempt_limits,
    own_limit_s,
    step_limits,
    worst_case_s,
)
from services.dispatcher.settings import DispatcherSettings
from tests.unit.dispatcher_fakes import ScriptedProvider, completion_of, make_dispatcher

APP_SYNC_DEADLINE_S = 30.0
"""STRATEGIST_SYNC_TIMEOUT_S's default: the whole pipeline must answer within it."""
OTHER_HOPS_MARGIN_S = 3.0
"""Classification, scoring and four Kafka hops, generously."""


def _every_route():
    """build_route over every tier, live-data need, preference and provider restriction."""
    routes = {}
    for complexity, live, cost, prefer, providers in itertools.product(
        (0.1, 0.5, 0.9), (False, True), (False, True), ("balanced", "quality", "cost"),
        (None, ["local"], ["gemini", "local"]),
    ):
        classification = Classification(
            complexity=complexity, needs_live_data=live, analysis_type="general",
            cost_sensitive=cost,
        )
        options = QueryOptions(prefer=prefer, providers=providers)
        route = build_route(classification, options)
        routes[tuple((s.provider, s.model) for s in route)] = tier_for(classification, options)
    assert set(routes.values()) == set(TIERS)
    return list(routes)


@pytest.mark.parametrize("route", _every_route(), ids=lambda r: ">".join(m for _, m in r))
def test_no_route_can_outlast_its_deadline_or_the_apps(route) -> None:
    settings = DispatcherSettings()
    cap = settings.attempt_timeout_cap_s
    limits = [own_limit_s(p, DEFAULT_CATALOGUE.get(p, m).timeout_s, cap) for p, m in route]
    worst = worst_case_s(limits, deadline_s=settings.route_deadline_s, reserve_cap_s=cap)
    assert worst <= settings.route_deadline_s
    assert settings.route_deadline_s + OTHER_HOPS_MARGIN_S <= APP_SYNC_DEADLINE_S
    # without the deadline, the sum of the model timeouts breaks the deadline (the old defect)
    if any(p == "local" for p, _ in route) and len(route) > 2:
        assert sum(limits) > APP_SYNC_DEADLINE_S


def test_a_local_primary_leaves_room_for_the_hosted_fallbacks() -> None:
    settings = DispatcherSettings()
    cap = settings.attempt_timeout_cap_s
    limits = [30.0, cap, cap]  # simple tier: local, then two hosted steps
    assert worst_case_s(limits, deadline_s=25.0, reserve_cap_s=cap) == pytest.approx(25.0)
    assert worst_case_s(limits[:1], deadline_s=25.0, reserve_cap_s=cap) == pytest.approx(25.0)
    assert worst_case_s([cap] * 3 + [30.0], deadline_s=25.0, reserve_cap_s=cap) == 25.0
    assert cap > MIN_ATTEMPT_S


def test_a_route_of_hanging_providers_ends_within_its_deadline() -> None:
    cheap = Classification(
        complexity=0.1, needs_live_data=False, analysis_type="editing", cost_sensitive=True
    )
    simple = QueryClassified(
        query=QueryRequested(query_id="s1", query="Fix the typo in: our canidate"),
        classification=cheap,
        route=build_route(cheap, QueryOptions()),
    )
    assert simple.route[0].provider == "local", simple.route
    providers = [ScriptedProvider(n, hang=True) for n in ("gemini", "perplexity", "local")]
    deadline_s = 3.0
    dispatcher = make_dispatcher(providers, cap=0.8, deadline=deadline_s)
    started = time.monotonic()
    completion = completion_of(asyncio.run(asyncio.wait_for(dispatcher.handle(simple), 20)))
    elapsed = time.monotonic() - started
    assert completion.status == "failed"
    assert elapsed < deadline_s + 1.0, f"route took {elapsed:.1f}s of a {deadline_s}s deadline"
    # the local primary (30 s timeout) did not eat the deadline: both fallbacks were tried
    assert [a.provider for a in completion.attempts] == ["local", "gemini", "perplexity"]
    assert [a.outcome for a in completion.attempts] == ["timeout"] * 3


def test_a_streaming_step_may_answer_slowly_but_must_start_before_the_later_reserves() -> None:
    """Slow is not failed: a streaming Gemini 2.5 Pro (first token within 45 s, whole
    answer within 120 s) of a complex route keeps going for 20.5 of the 25 s, leaving the
    next step its reserve, but a silent one is left while all three fallbacks still fit."""
    pro = StepLimits(total_s=120.0, first_token_s=45.0, stall_s=15.0)
    later = [StepLimits(60.0, 15.0, 10.0), StepLimits(60.0, 20.0, 10.0), StepLimits(30.0, 20.0)]
    given = attempt_limits(pro, later, remaining_s=25.0, reserve_cap_s=4.5)
    assert given.total_s == pytest.approx(25.0 - 4.5)
    assert given.first_token_s == pytest.approx(25.0 - 3 * 4.5)
    assert given.stall_s == 15.0
    # without a first-token limit nothing tells hung from slow: the hosted cap applies
    capped = step_limits("gemini", timeout_s=120.0, first_token_s=None, stall_s=None,
                         hosted_cap_s=4.5)
    assert attempt_limits(capped, later, 25.0, 4.5).total_s == 4.5
    assert attempt_limits(capped, later, 25.0, 4.5).first_token_s is None

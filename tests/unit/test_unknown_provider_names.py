"""A provider name nothing declares, or one a process's catalogue lacks, is refused or
skipped by name in every service: never a bare KeyError that stops a process without
saying why or dead-letters a query another step of its route could answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from redis.asyncio import Redis

from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, LOCAL_MODEL, Catalogue
from providers.registry import UnknownProvider, build_providers, close_providers
from providers.settings import ProviderSettings
from schemas.base import PROVIDER_NAMES
from schemas.classified import QueryClassified
from schemas.parts import Classification, RouteStep
from schemas.query import QueryOptions, QueryRequested
from services.classifier.handler import classify
from services.classifier.model_route import NO_MODEL, build_route
from services.common.producer import EventProducer
from services.dispatcher.skips import UNKNOWN_MODEL
from services.health.settings import HealthSettings
from services.health.worker import HealthService
from tests.e2e.stack import monitored_providers
from tests.unit.dispatcher_fakes import ScriptedProvider, completion_of, make_dispatcher

UNREACHABLE = "http://127.0.0.1:1"
"""Nothing connects in these tests; an address nobody answers on, should anything try."""

DECLARED = """
providers:
  - name: acme
    type: openai_compatible
    base_url: https://api.acme.example/v1
    api_key_env: ACME_API_KEY
  - name: beta
    type: openai_compatible
    base_url: https://api.beta.example/v1
    api_key_env: BETA_API_KEY
models:
  - provider: acme
    model_id: acme-chat
    capabilities: {context_window: 32768}
    pricing: {input_per_million_usd: 0.5, output_per_million_usd: 1.0, source: example}
  - provider: beta
    model_id: beta-large
    capabilities: {context_window: 32768}
    pricing: {input_per_million_usd: 1.0, output_per_million_usd: 2.0, source: example}
  - provider: gemini
    model_id: gemini-2.5-flash
    capabilities: {context_window: 1048576}
    pricing: {input_per_million_usd: 0.3, output_per_million_usd: 2.5, source: example}
"""


@pytest.fixture
def catalogue(tmp_path) -> Catalogue:
    path = tmp_path / "catalogue.yaml"
    path.write_text(DECLARED)
    return Catalogue.load(path)


@contextlib.contextmanager
def _health_service(catalogue: Catalogue) -> Iterator[HealthService]:
    """A health service over `catalogue`'s providers (HEALTH_* from the environment),
    built and closed without any server reached."""
    providers = build_providers(ProviderSettings(emulator_url=UNREACHABLE), catalogue)
    redis = Redis.from_url("redis://127.0.0.1:1")
    try:
        yield HealthService(HealthSettings(), producer=EventProducer(config={}), redis=redis,
                            providers=providers)
    finally:
        asyncio.run(close_providers(providers))
        asyncio.run(redis.aclose())


def test_a_misspelt_monitored_provider_stops_the_health_service_naming_it(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_MONITORED_PROVIDERS", '["gemini", "perplexty"]')
    with pytest.raises(UnknownProvider) as caught, _health_service(catalogue):
        pass
    message = str(caught.value)
    assert "no provider named 'perplexty'" in message
    assert "perplexity" in message and "acme" in message  # the names that exist


def test_the_health_service_monitors_a_declared_provider(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEALTH_MONITORED_PROVIDERS", '["acme", "gemini"]')
    with _health_service(catalogue) as service:
        assert set(service.monitor.trackers) == {"acme", "gemini"}


STANDARD = Classification(
    complexity=0.4, needs_live_data=False, analysis_type="general", cost_sensitive=False,
    tier="standard",
)


def _models(route: list[RouteStep]) -> list[tuple[str, str]]:
    return [(step.provider, step.model) for step in route]


def test_a_query_restricted_to_a_declared_provider_is_routed_to_its_model(
    catalogue: Catalogue,
) -> None:
    query = QueryRequested(query_id="q1", query="Summarise the county results",
                           options=QueryOptions(providers=["acme"]))
    classified = classify(query, catalogue=catalogue)
    assert _models(classified.route) == [("acme", "acme-chat")]
    assert "caller restricted the providers to acme" in classified.route[0].reason


def test_a_restricted_route_keeps_the_callers_order_as_its_fallbacks(
    catalogue: Catalogue,
) -> None:
    route = build_route(STANDARD, QueryOptions(providers=["beta", "nobody", "acme"]), catalogue)
    assert _models(route) == [("beta", "beta-large"), ("acme", "acme-chat")]


def test_a_restricted_provider_with_no_model_gives_a_route_that_says_so() -> None:
    """The app refuses such names; a classifier whose catalogue differs still publishes a
    route (never a dead letter) whose reason says why nothing can answer."""
    route = build_route(STANDARD, QueryOptions(providers=["acme"]), DEFAULT_CATALOGUE)
    assert len(route) == 1 and route[0].provider == "acme"
    assert "no model of acme" in route[0].reason



def _classified(*steps: tuple[str, str]) -> QueryClassified:
    """A query whose route the classifier built from a catalogue the dispatcher lacks."""
    return QueryClassified(
        query=QueryRequested(query_id="q1", query="Draft a canvassing script"),
        classification=STANDARD,
        route=[RouteStep(provider=p, model=m, reason="test route") for p, m in steps],
    )


def test_a_route_step_the_dispatchers_catalogue_lacks_is_skipped_and_the_rest_answers() -> None:
    gemini = ScriptedProvider("gemini")
    dispatcher = make_dispatcher([gemini, ScriptedProvider("local")])  # built-in catalogue
    route = _classified(("acme", "acme-chat"), ("gemini", "gemini-9-ultra"),
                        ("gemini", GEMINI_FLASH))  # fmt: skip
    completion = completion_of(asyncio.run(dispatcher.handle(route)))
    assert completion.status == "succeeded" and completion.answer is not None
    assert (completion.answer.provider, completion.answer.model) == ("gemini", GEMINI_FLASH)
    assert [(a.provider, a.model, a.outcome, a.error_kind) for a in completion.attempts] == [
        ("acme", "acme-chat", "skipped", UNKNOWN_MODEL),
        ("gemini", "gemini-9-ultra", "skipped", UNKNOWN_MODEL),
        ("gemini", GEMINI_FLASH, "success", None),
    ]
    assert completion.attempts[0].error_message == (
        "acme/acme-chat is not in the dispatcher's catalogue (CATALOGUE_PATH) or has no client"
    )
    assert [call.model for call in gemini.calls] == [GEMINI_FLASH]


def test_a_route_the_dispatcher_can_call_none_of_fails_saying_why() -> None:
    """A failed completion the caller can read, not a dead-lettered query."""
    dispatcher = make_dispatcher([ScriptedProvider("gemini")])  # no client for local
    completion = completion_of(
        asyncio.run(dispatcher.handle(_classified(("acme", NO_MODEL), ("local", LOCAL_MODEL))))
    )
    assert completion.status == "failed"
    assert [a.outcome for a in completion.attempts] == ["skipped", "skipped"]
    assert completion.error is not None
    assert "acme/(no model) is not in the dispatcher's catalogue" in completion.error
    assert f"local/{LOCAL_MODEL} is not in the dispatcher's catalogue" in completion.error


def test_the_e2e_stack_waits_only_for_the_providers_the_health_service_monitors() -> None:
    assert monitored_providers({}) == list(PROVIDER_NAMES)
    given = {"HEALTH_MONITORED_PROVIDERS": '["gemini", "acme"]'}
    assert monitored_providers(given) == ["gemini", "acme"]

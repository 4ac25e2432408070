"""Provider names are open: a catalogue may declare "together", "groq" or "my-vllm", and
every event about its calls validates. The catalogue decides which names exist, and a
name nothing declares is refused by name (never a bare KeyError deep in a service)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from providers.catalogue import Catalogue
from providers.openai_compatible import OpenAICompatibleProvider
from providers.registry import UnknownProvider, build_providers, close_providers, select_providers
from providers.settings import ProviderSettings
from schemas.attempt import ProviderAttempt
from schemas.base import PROVIDER_NAMES
from schemas.health import ProviderStatus
from schemas.parts import Answer, AttemptSummary, RouteStep
from schemas.query import QueryOptions
from services.health.handler import HealthMonitor, Thresholds
from services.health.prober import Prober

DECLARED = """
providers:
  - name: my-vllm
    type: openai_compatible
    base_url: http://vllm.internal:8000/v1
    api_key_env: MY_VLLM_KEY
  - name: together
    type: openai_compatible
    base_url: https://api.together.xyz/v1
    api_key_env: TOGETHER_API_KEY
models:
  - provider: my-vllm
    model_id: qwen2.5-7b-instruct
    capabilities: {context_window: 32768}
    pricing: {input_per_million_usd: 0, output_per_million_usd: 0, source: self-hosted}
    fallbacks: [together/llama-3.3-70b]
  - provider: together
    model_id: llama-3.3-70b
    capabilities: {context_window: 131072}
    pricing: {input_per_million_usd: 0.88, output_per_million_usd: 0.88, source: example}
"""


@pytest.fixture
def catalogue(tmp_path) -> Catalogue:
    path = tmp_path / "catalogue.yaml"
    path.write_text(DECLARED)
    return Catalogue.load(path)


def test_a_catalogue_may_declare_providers_with_new_names(catalogue: Catalogue) -> None:
    assert catalogue.provider_names() == (*PROVIDER_NAMES, "my-vllm", "together")
    assert catalogue.routable_providers() == ("my-vllm", "together")
    primary = catalogue.get("my-vllm", "qwen2.5-7b-instruct")
    assert [f.provider for f in catalogue.fallbacks_for(primary)] == ["together"]


def test_events_about_a_declared_provider_validate() -> None:
    """The events of one call to "my-vllm", through every topic it touches."""
    step = RouteStep(provider="my-vllm", model="qwen2.5-7b-instruct", reason="named")
    attempt = ProviderAttempt(
        query_id="q1", provider="my-vllm", model="qwen2.5-7b-instruct", attempt_number=1,
        outcome="success", latency_ms=120.0,
    )  # fmt: skip
    answer = Answer(
        provider="my-vllm", model="qwen2.5-7b-instruct", text="ok", input_tokens=3,
        output_tokens=1, cost_usd=0.0, latency_ms=120.0,
    )  # fmt: skip
    summary = AttemptSummary(provider="together", model="llama-3.3-70b", outcome="success")
    status = ProviderStatus(
        provider="together", state="healthy", reason="probes pass", error_rate=0.0
    )
    options = QueryOptions(providers=["my-vllm", "together"])
    for event in (step, attempt, answer, summary, status, options):
        assert type(event).model_validate_json(event.model_dump_json()) == event
    assert ProviderAttempt.from_bytes(attempt.to_bytes()).provider == "my-vllm"


@pytest.mark.parametrize("name", ["Gemini", "my vllm", "-x", "a" * 33, "", "acme/chat"])
def test_a_provider_name_of_the_wrong_shape_is_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="provider"):
        ProviderAttempt(
            query_id="q1", provider=name, model="m", attempt_number=1, outcome="started",
            latency_ms=0.0,
        )  # fmt: skip


def test_a_model_of_a_provider_nobody_declared_is_refused_by_name(tmp_path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(DECLARED.replace("  - provider: together\n", "  - provider: groq\n"))
    with pytest.raises(ValidationError, match="provider 'groq' is neither built in nor declared"):
        Catalogue.load(path)


def test_the_registry_builds_a_client_per_declared_name(
    catalogue: Catalogue, monkeypatch
) -> None:
    monkeypatch.delenv("MY_VLLM_KEY", raising=False)
    monkeypatch.setenv("TOGETHER_API_KEY", "tg-test-not-a-real-key")
    providers = build_providers(ProviderSettings(emulator_url="http://127.0.0.1:1"), catalogue)
    try:
        assert set(providers) == {*PROVIDER_NAMES, "my-vllm", "together"}
        vllm, together = providers["my-vllm"], providers["together"]
        assert isinstance(vllm, OpenAICompatibleProvider) and vllm.name == "my-vllm"
        assert vllm.emulated and vllm.base_url == "http://127.0.0.1:1/openai/v1"
        assert isinstance(together, OpenAICompatibleProvider) and not together.emulated
        assert together.base_url == "https://api.together.xyz/v1"
    finally:
        asyncio.run(close_providers(providers))


def test_selecting_a_provider_without_a_client_names_it(catalogue: Catalogue) -> None:
    providers = build_providers(ProviderSettings(emulator_url="http://127.0.0.1:1"), catalogue)
    try:
        chosen = select_providers(providers, ["together", "gemini", "together"])
        assert list(chosen) == ["together", "gemini"]
        with pytest.raises(UnknownProvider) as caught:
            select_providers(providers, ["gemini", "groq", "openai"])
        assert caught.value.names == ("groq", "openai")
        assert "no provider named 'groq', 'openai'" in str(caught.value)
        assert "my-vllm" in str(caught.value)  # the names that exist are listed
    finally:
        asyncio.run(close_providers(providers))


def test_the_prober_refuses_a_provider_without_an_interval(catalogue: Catalogue) -> None:
    providers = build_providers(ProviderSettings(emulator_url="http://127.0.0.1:1"), catalogue)
    monitored = select_providers(providers, ["gemini", "my-vllm"])
    try:
        with pytest.raises(ValueError, match="no probe interval for provider.*my-vllm"):
            Prober(
                providers=monitored, monitor=HealthMonitor(monitored, Thresholds()),
                publisher=None,  # type: ignore[arg-type]  # never reached
                intervals_s={"gemini": 1.0}, timeout_s=1.0, heartbeat_s=5.0,
            )  # fmt: skip
    finally:
        asyncio.run(close_providers(providers))

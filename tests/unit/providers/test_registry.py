"""The registry builds one client per provider, lazily, and closes them all."""

from __future__ import annotations

import asyncio
import logging

from providers.base import CompletionRequest, Provider
from providers.gemini import GeminiProvider
from providers.local import LocalProvider
from providers.openai_compatible import OpenAICompatibleProvider
from providers.perplexity import PerplexityProvider
from providers.registry import build_providers, close_providers
from providers.settings import ProviderSettings
from tests.unit.providers.conftest import FAKE_GEMINI_KEY


def test_one_client_per_provider_without_connecting():
    providers = build_providers(ProviderSettings(emulator_url="http://127.0.0.1:1"))
    assert set(providers) == {"gemini", "perplexity", "local"}
    assert isinstance(providers["gemini"], GeminiProvider)
    assert isinstance(providers["perplexity"], PerplexityProvider)
    assert isinstance(providers["local"], LocalProvider)
    for name, provider in providers.items():
        assert isinstance(provider, Provider)
        assert provider.name == name
    asyncio.run(close_providers(providers))


def test_keys_select_the_real_services():
    emulated = build_providers(ProviderSettings(gemini_api_key=None, perplexity_api_key=None))
    assert emulated["gemini"].emulated and emulated["perplexity"].emulated
    real = build_providers(ProviderSettings(gemini_api_key=FAKE_GEMINI_KEY))
    assert not real["gemini"].emulated
    assert real["gemini"].base_url == "https://generativelanguage.googleapis.com"


def test_close_after_use_then_close_again(settings):
    async def run() -> None:
        providers = build_providers(settings)
        request = CompletionRequest(
            prompt="latest polls in Ohio", model="sonar", max_output_tokens=64, timeout_s=3
        )
        await providers["perplexity"].complete(request)
        await providers["gemini"].probe(1.0)
        await close_providers(providers)
        await close_providers(providers)  # idempotent

    asyncio.run(run())


DECLARED = """
providers:
  - name: perplexity
    type: openai_compatible
    base_url: https://llm.example.test/v1
    api_key_env: TEST_DECLARED_LLM_KEY
models:
  - provider: perplexity
    model_id: gpt-4.1-mini
    capabilities: {context_window: 128000}
    pricing: {input_per_million_usd: 0.4, output_per_million_usd: 1.6, source: example}
"""


def _declared(tmp_path, settings: ProviderSettings) -> ProviderSettings:
    path = tmp_path / "catalogue.yaml"
    path.write_text(DECLARED)
    return settings.model_copy(update={"catalogue_path": str(path)})


def test_a_declared_provider_without_its_key_answers_from_the_emulator(
    tmp_path, settings, monkeypatch, caplog
):
    """Built from CATALOGUE_PATH by the generic openai SDK client; no key: the emulator."""
    monkeypatch.delenv("TEST_DECLARED_LLM_KEY", raising=False)
    providers = build_providers(_declared(tmp_path, settings))
    client = providers["perplexity"]
    assert isinstance(client, OpenAICompatibleProvider)
    assert not isinstance(client, PerplexityProvider)
    assert client.emulated and client.base_url == f"{settings.emulator_url}/openai/v1"

    async def run() -> str:
        request = CompletionRequest(
            prompt="turnout in Erie County", model="gpt-4.1-mini", max_output_tokens=64, timeout_s=3
        )
        try:
            return (await client.complete(request)).text
        finally:
            await close_providers(providers)

    assert asyncio.run(run()).startswith("[emulated gpt-4.1-mini]")


def test_a_declared_providers_key_comes_from_its_variable_and_is_never_logged(
    tmp_path, settings, monkeypatch, caplog
):
    secret = "sk-test-DECLAREDSECRET0123456789"
    monkeypatch.setenv("TEST_DECLARED_LLM_KEY", secret)
    with caplog.at_level(logging.DEBUG):
        providers = build_providers(_declared(tmp_path, settings))
    client = providers["perplexity"]
    assert not client.emulated and client.base_url == "https://llm.example.test/v1"
    assert secret not in caplog.text

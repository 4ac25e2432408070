"""The registry builds one client per provider, lazily, and closes them all."""

from __future__ import annotations

import asyncio

from providers.base import CompletionRequest, Provider
from providers.gemini import GeminiProvider
from providers.local import LocalProvider
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

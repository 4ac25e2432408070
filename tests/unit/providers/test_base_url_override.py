"""GEMINI_BASE_URL / PERPLEXITY_BASE_URL: where a keyed client sends its calls and its key.

Production may point a keyed client at a proxy or a regional endpoint; the secret-leak
test points it, with recognisable fake keys, at the emulator. The real SDKs are run
against the in-process emulator (which accepts any key without "invalid" in it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from pydantic import ValidationError

from providers.base import CompletionRequest, Provider, ProviderReply
from providers.catalogue import GEMINI_FLASH, SONAR
from providers.errors import AuthenticationFailed, ProviderError
from providers.gemini import GeminiProvider
from providers.perplexity import PerplexityProvider
from providers.settings import GEMINI_REAL_BASE_URL, ProviderSettings

GEMINI_KEY = "AIzaSyBASEURLCANARY0123456789abcdefghij"
PERPLEXITY_KEY = "pplx-BASEURLCANARY0123456789abcdefghij"
PROXY = "https://llm-proxy.campaign.example"
CALL_TIMEOUT_S = 5.0
Build = Callable[[ProviderSettings], Provider]
CLIENTS: dict[str, tuple[Build, str, str, str]] = {
    "gemini": (lambda s: GeminiProvider(settings=s), "GEMINI", GEMINI_KEY, GEMINI_FLASH),
    "perplexity": (lambda s: PerplexityProvider(settings=s), "PERPLEXITY", PERPLEXITY_KEY, SONAR),
}


def _env(monkeypatch: pytest.MonkeyPatch, prefix: str, key: str, base_url: str) -> None:
    monkeypatch.setenv(f"{prefix}_API_KEY", key)
    monkeypatch.setenv(f"{prefix}_BASE_URL", base_url)


async def _complete(provider: Provider, model: str) -> ProviderReply:
    try:
        return await provider.complete(
            CompletionRequest(
                prompt="Is turnout up?", model=model, max_output_tokens=64,
                timeout_s=CALL_TIMEOUT_S,
            )
        )  # fmt: skip
    finally:
        close: Callable[[], Awaitable[None]] = provider.aclose  # type: ignore[attr-defined]
        await close()


def _requests(emulator: str, provider: str) -> int:
    counters = httpx.get(f"{emulator}/_control/requests?provider={provider}", timeout=5).json()
    return int(counters[provider]["requests"])


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_a_keyed_client_calls_its_base_url_with_its_key(
    name: str, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, prefix, key, model = CLIENTS[name]
    _env(monkeypatch, prefix, key, emulator)
    settings = ProviderSettings()
    provider = build(settings)
    assert provider.emulated is False  # keyed: the real client, sent where the URL says
    before = _requests(emulator, name)
    reply = asyncio.run(_complete(provider, model))
    assert reply.text
    assert _requests(emulator, name) == before + 1


@pytest.mark.parametrize("name", sorted(CLIENTS))
def test_a_key_the_endpoint_refuses_is_not_echoed_in_the_error(
    name: str, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, prefix, key, model = CLIENTS[name]
    refused_key = f"{key}-invalid"
    _env(monkeypatch, prefix, refused_key, emulator)
    with pytest.raises(ProviderError) as caught:
        asyncio.run(_complete(build(ProviderSettings()), model))
    assert isinstance(caught.value, AuthenticationFailed)
    for text in (str(caught.value), caught.value.message, repr(caught.value)):
        assert key not in text


def test_without_a_key_the_base_url_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_BASE_URL", PROXY)
    settings = ProviderSettings(emulator_url="http://127.0.0.1:8090")
    assert settings.gemini_base_url == "http://127.0.0.1:8090"


def test_a_keyed_client_without_a_base_url_calls_the_real_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    monkeypatch.setenv("GEMINI_BASE_URL", "")  # as docker compose passes an unset variable
    assert ProviderSettings().gemini_base_url == GEMINI_REAL_BASE_URL


@pytest.mark.parametrize("url", ["llm-proxy.campaign.example", "ftp://proxy", "https://"])
def test_a_base_url_that_is_not_an_http_url_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _env(monkeypatch, "PERPLEXITY", PERPLEXITY_KEY, url)
    with pytest.raises(ValidationError, match="PERPLEXITY_BASE_URL|base URL"):
        ProviderSettings()

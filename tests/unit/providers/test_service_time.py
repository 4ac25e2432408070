"""The provider's own service time, read from its response headers onto the attempt."""

from __future__ import annotations

import asyncio

import pytest

from core.attempt import attempt_model
from core.response import provider_service_ms
from providers.base import CompletionRequest, ProviderReply
from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_FLASH, SONAR
from providers.gemini import GeminiProvider
from providers.perplexity import PerplexityProvider
from providers.settings import ProviderSettings
from providers.transport import stated_service_ms
from schemas.parts import AttemptSummary
from schemas.query import QueryRequested

QUERY = QueryRequested(query_id="q-service", query="latest polls in Arizona this week")
TIMEOUT_S = 5.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x-emulator-service-ms": "12.5"}, 12.5),
        ({"openai-processing-ms": "40"}, 40.0),
        ({"x-emulator-service-ms": "3.25", "openai-processing-ms": "3"}, 3.25),
        ({"x-emulator-service-ms": "soon", "openai-processing-ms": "7"}, 7.0),
        ({"openai-processing-ms": "-1"}, None),
        ({"openai-processing-ms": "inf"}, None),
        ({}, None),
    ],
)
def test_stated_service_time_from_headers(headers, expected):
    assert stated_service_ms(headers) == expected


async def _attempt(provider, model: str) -> AttemptSummary:
    try:
        result = await attempt_model(
            provider=provider,
            spec=DEFAULT_CATALOGUE.get(provider.name, model),
            query=QUERY,
            timeout_s=TIMEOUT_S,
        )
    finally:
        await provider.aclose()
    return result.summary


@pytest.mark.parametrize(
    ("client", "model"), [(GeminiProvider, GEMINI_FLASH), (PerplexityProvider, SONAR)]
)
def test_each_sdk_client_records_the_stated_service_time(
    settings: ProviderSettings, client, model
):
    summary = asyncio.run(_attempt(client(settings=settings), model))
    assert summary.outcome == "success"
    assert summary.provider_service_ms is not None
    assert 0.0 <= summary.provider_service_ms <= summary.latency_ms


def test_a_failed_call_keeps_the_service_time_it_was_told(settings: ProviderSettings, set_mode):
    set_mode("perplexity", "error")
    summary = asyncio.run(_attempt(PerplexityProvider(settings=settings), SONAR))
    assert summary.outcome == "error"
    assert summary.provider_service_ms is not None


class _Silent:
    """A provider that answers without HTTP: nothing states a service time."""

    name = "perplexity"
    emulated = True

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        return ProviderReply(text="ok", model=request.model, input_tokens=1, output_tokens=1)

    async def aclose(self) -> None:
        return None


def test_no_stated_time_is_none_not_zero():
    summary = asyncio.run(_attempt(_Silent(), SONAR))
    assert summary.outcome == "success"
    assert summary.provider_service_ms is None


def _summary(outcome: str, service_ms: float | None) -> AttemptSummary:
    return AttemptSummary(
        provider="gemini",
        model=GEMINI_FLASH,
        outcome=outcome,  # type: ignore[arg-type]
        latency_ms=50.0,
        provider_service_ms=service_ms,
    )


def test_routing_sums_the_attempts_that_stated_one():
    assert provider_service_ms([]) is None
    assert provider_service_ms([_summary("skipped", None), _summary("error", None)]) is None
    both = [_summary("error", 1.5), _summary("skipped", None), _summary("success", 20.25)]
    assert provider_service_ms(both) == 21.75

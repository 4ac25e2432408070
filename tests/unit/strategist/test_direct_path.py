"""The direct path with the real Gemini client against the in-process provider emulator."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from providers.catalogue import DEFAULT_CATALOGUE
from providers.gemini import GeminiProvider
from providers.settings import ProviderSettings
from schemas.query import QueryOptions, QueryRequested
from strategist.analysis.direct import DirectAnalyzer
from strategist.analysis.loop import LoopRunner
from tests.support.emulator_server import running_emulator

REASON = "Intelligent routing is switched off"


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    with running_emulator(latency_scale=0.0) as url:
        yield url


@pytest.fixture
def direct(emulator_url: str) -> Iterator[DirectAnalyzer]:
    httpx.post(f"{emulator_url}/_control/reset", timeout=5).raise_for_status()
    loop = LoopRunner()
    provider = GeminiProvider(
        settings=ProviderSettings(gemini_api_key=None, emulator_url=emulator_url)
    )
    yield DirectAnalyzer(provider=provider, catalogue=DEFAULT_CATALOGUE, runner=loop, timeout_s=5)
    loop.run(provider.aclose(), 5)
    loop.stop()


def test_direct_answer_has_the_routed_shape(direct: DirectAnalyzer) -> None:
    query = QueryRequested(
        query_id="d1",
        query="How should we frame the economy in Ohio?",
        campaign_id="oh",
        analysis_type="messaging",
    )
    response = direct.analyze(query, reason=REASON)
    assert response.status == "completed"
    assert response.analysis_id == "d1"
    assert response.analysis_type == "messaging"
    assert response.campaign_id == "oh"
    assert response.result
    routing = response.routing
    assert routing.path == "direct"
    assert (routing.provider, routing.model) == ("gemini", "gemini-2.5-pro")
    assert routing.emulated is True
    assert routing.cost_usd > 0
    assert routing.failed_attempts == [] and routing.route == []
    assert routing.explanation.startswith(REASON)
    assert response.confidence is not None
    assert 0.0 <= response.confidence.score <= 1.0
    assert response.confidence.components["historical_accuracy"].value == 0.5
    assert "model_certainty" in response.confidence.components


def test_caller_output_limit_is_respected(direct: DirectAnalyzer) -> None:
    query = QueryRequested(
        query_id="d2", query="Summarise the race", options=QueryOptions(max_output_tokens=64)
    )
    response = direct.analyze(query, reason=REASON)
    assert response.status == "completed"


def test_gemini_down_is_a_failed_response_not_an_exception(
    direct: DirectAnalyzer, emulator_url: str
) -> None:
    httpx.put(
        f"{emulator_url}/_control/providers/gemini", json={"mode": "down"}, timeout=5
    ).raise_for_status()
    response = direct.analyze(QueryRequested(query_id="d3", query="q"), reason=REASON)
    assert response.status == "failed"
    assert response.result is None and response.confidence is None
    assert response.error
    [attempt] = response.routing.failed_attempts
    assert (attempt.provider, attempt.error_kind) == ("gemini", "server_error")
    assert "no fallback" in response.routing.explanation

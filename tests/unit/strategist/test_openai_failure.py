"""How a failed analysis reaches an OpenAI SDK caller: a refusal that is the caller's to
see (a safety filter, a query no model may answer) is a 400 naming the model; any other
failure is a 502 the SDK retries."""

from __future__ import annotations

import pytest

from schemas.parts import AttemptSummary
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.openai_api.routes import _failure
from tests.unit.strategist.fakes import answered


def _failed_with(kind: str, message: str) -> AnalysisResponded:
    attempts = [
        AttemptSummary(provider="perplexity", model="sonar", outcome="error",
                       error_kind="server_error", error_message="HTTP 503"),
        AttemptSummary(provider="gemini", model="gemini-2.5-pro", outcome="error",
                       error_kind=kind, error_message=message),
    ]  # fmt: skip
    response = answered(QueryRequested(query_id="q1", query="q"), failed=True)
    routing = response.routing.model_copy(update={"failed_attempts": attempts})
    return response.model_copy(update={"routing": routing, "error": f"{kind}: {message}"})


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("content_blocked", 400, "content_filter", "gemini/gemini-2.5-pro: blocked: SAFETY"),
        ("invalid_query", 400, "invalid_value", "gemini/gemini-2.5-pro: blocked: SAFETY"),
        ("server_error", 502, "provider_error", "server_error: blocked: SAFETY"),
    ],
)
def test_a_failed_analysis_is_the_error_the_caller_can_act_on(
    kind: str, status: int, code: str, message: str
) -> None:
    error = _failure(_failed_with(kind, "blocked: SAFETY"))
    assert (error.status, error.code, error.message) == (status, code, message)
    assert error.extra["x_routing"]["analysis_id"]

"""A provider's safety refusal is the caller's to see on the strategist API: 422
`content_blocked` naming the model, its reason and the analysis (not 502, which says "no
provider could answer, retry"), on POST /analyze and on GET by id; and `options.providers`
is checked against the catalogue, since provider names are open strings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest
from jsonschema import Draft202012Validator

from providers.catalogue import GEMINI_PRO
from schemas.parts import AttemptSummary
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.openapi import openapi_document
from tests.unit.strategist.conftest import FakedApp, make_settings
from tests.unit.strategist.fakes import answered

Faked = Callable[..., FakedApp]
API = "/api/v1/strategist"
REASON = "response blocked: SAFETY"
Path = Literal["intelligent", "direct"]


def blocked(query: QueryRequested, *, path: Path = "intelligent") -> AnalysisResponded:
    """A failed analysis as the dispatcher ends one whose model refused the content."""
    refusal = AttemptSummary(
        provider="gemini",
        model=GEMINI_PRO,
        outcome="error",
        error_kind="content_blocked",
        error_message=REASON,
        latency_ms=40.0,
    )
    failed = answered(query, failed=True, path=path)
    routing = failed.routing.model_copy(update={"failed_attempts": [refusal]})
    return failed.model_copy(
        update={"routing": routing, "error": f"content_blocked: gemini: {REASON}"}
    )


def _conforms(body: dict[str, Any], path: str, method: str, status: int) -> None:
    document = openapi_document()
    reply = document["paths"][path][method]["responses"][str(status)]
    schema = reply["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": document["components"]}).validate(body)


def _assert_blocked(body: dict[str, Any], analysis_id: str) -> None:
    error = body["error"]
    assert error["code"] == "content_blocked"
    assert error["message"] == f"gemini/{GEMINI_PRO} refused the query: {REASON}"
    assert error["field"] == "query"
    assert error["analysis_id"] == analysis_id


@pytest.mark.parametrize("path", ["intelligent", "direct"])
def test_content_blocked_on_analyze_is_422_with_the_reason(faked: Faked, path: Path) -> None:
    client, parts = faked()
    parts.publisher.on_publish = lambda query: parts.store.save(blocked(query, path=path))
    reply = client.post(f"{API}/analyze", json={"query": "q"})
    assert reply.status_code == 422, reply.get_data(as_text=True)
    body = reply.get_json()
    [query] = parts.publisher.published
    _assert_blocked(body, query.query_id)
    _conforms(body, f"{API}/analyze", "post", 422)


def test_content_blocked_on_get_by_id_is_422_with_the_reason(faked: Faked) -> None:
    client, parts = faked()
    accepted = client.post(f"{API}/analyses", json={"query": "q"}).get_json()
    query = QueryRequested(query_id=accepted["analysis_id"], query="q")
    parts.store.save(blocked(query))
    reply = client.get(accepted["status_url"])
    assert reply.status_code == 422, reply.get_data(as_text=True)
    _assert_blocked(reply.get_json(), accepted["analysis_id"])
    _conforms(reply.get_json(), f"{API}/analyses/{{analysis_id}}", "get", 422)


def test_other_failures_stay_502(faked: Faked) -> None:
    client, parts = faked()
    parts.publisher.on_publish = lambda query: parts.store.save(answered(query, failed=True))
    reply = client.post(f"{API}/analyze", json={"query": "q"})
    assert reply.status_code == 502
    assert reply.get_json()["status"] == "failed"


CATALOGUE = """
providers:
  - name: acme
    type: openai_compatible
    base_url: https://llm.acme.test/v1
    api_key_env: ACME_KEY
models:
  - provider: acme
    model_id: acme-chat
    capabilities: {context_window: 32000}
    pricing: {input_per_million_usd: 0.2, output_per_million_usd: 0.6, source: example}
  - provider: gemini
    model_id: gemini-2.5-flash
    capabilities: {context_window: 1048576}
    pricing: {input_per_million_usd: 0.3, output_per_million_usd: 2.5, source: example}
"""


def test_a_declared_provider_may_be_named_and_an_unknown_one_is_422(faked: Faked, tmp_path) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text(CATALOGUE)
    settings = make_settings()
    providers = settings.providers.model_copy(update={"catalogue_path": str(path)})
    client, parts = faked(providers=providers)

    reply = client.post(f"{API}/analyses", json={"query": "q", "options": {"providers": ["acme"]}})
    assert reply.status_code == 202, reply.get_data(as_text=True)
    assert parts.publisher.published[-1].options.providers == ["acme"]

    reply = client.post(
        f"{API}/analyses", json={"query": "q", "options": {"providers": ["acme", "perplexity"]}}
    )
    assert reply.status_code == 422  # this catalogue has no perplexity model
    error = reply.get_json()["error"]
    assert (error["code"], error["field"]) == ("validation_error", "options.providers.1")
    assert "known: gemini, acme" in error["message"]
    assert len(parts.publisher.published) == 1


@pytest.mark.parametrize("name", ["Acme", "acme vllm", "a" * 33, ""])
def test_a_provider_name_of_the_wrong_shape_is_422(faked: Faked, name: str) -> None:
    client, parts = faked()
    reply = client.post(f"{API}/analyses", json={"query": "q", "options": {"providers": [name]}})
    assert reply.status_code == 422
    assert reply.get_json()["error"]["field"] == "options.providers.0"
    assert not parts.publisher.published

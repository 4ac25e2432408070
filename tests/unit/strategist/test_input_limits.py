"""JSON that parses but that the system cannot carry is refused at the edge, naming why.

Before: 5,000 levels of nesting and a 5,000-digit integer answered 500; a lone
surrogate got through validation, failed serialisation at publish time, was
logged as "Kafka unreachable" and answered by the direct Gemini path.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from strategist.request import MAX_INTEGER_DIGITS, MAX_JSON_DEPTH
from tests.unit.strategist.conftest import FakedApp

ANALYZE = "/api/v1/strategist/analyze"
ANALYSES = "/api/v1/strategist/analyses"
Faked = Callable[..., FakedApp]


def _post(client: FlaskClient, raw: str, path: str = ANALYZE):  # type: ignore[no-untyped-def]
    return client.post(path, data=raw.encode("ascii"), content_type="application/json")


@pytest.mark.parametrize("path", [ANALYZE, ANALYSES])
def test_json_nested_5000_levels_is_400(untouched: FlaskClient, path: str) -> None:
    response = _post(untouched, "[" * 5000 + "]" * 5000, path)
    assert response.status_code == 400, response.data
    error = response.get_json()["error"]
    assert error["code"] == "json_too_deep"
    assert str(MAX_JSON_DEPTH) in error["message"]


def test_context_nested_past_the_limit_is_400_naming_where(untouched: FlaskClient) -> None:
    depth = MAX_JSON_DEPTH + 5
    context = '{"a":' * depth + "1" + "}" * depth
    response = _post(untouched, f'{{"query": "q", "context": {context}}}')
    assert response.status_code == 400, response.data
    error = response.get_json()["error"]
    assert error["code"] == "json_too_deep"
    assert error["field"].startswith("context.a.a")


def test_context_nested_within_the_limit_is_accepted(faked: Faked) -> None:
    client, parts = faked(sync_timeout_s=0.05)
    depth = MAX_JSON_DEPTH - 3
    context = '{"a":' * depth + "1" + "}" * depth
    response = _post(client, f'{{"query": "q", "context": {context}}}')
    assert response.status_code == 202, response.data
    assert len(parts.publisher.published) == 1


@pytest.mark.parametrize(
    "raw",
    [
        '{"query": "q", "context": {"n": ' + "7" * 5000 + "}}",
        '{"query": "q", "options": {"max_output_tokens": ' + "9" * 5000 + "}}",
        '{"query": "q", "context": {"n": -' + "1" * (MAX_INTEGER_DIGITS + 1) + "}}",
    ],
)
def test_integer_with_too_many_digits_is_400(untouched: FlaskClient, raw: str) -> None:
    response = _post(untouched, raw)
    assert response.status_code == 400, response.data
    error = response.get_json()["error"]
    assert error["code"] == "number_too_large"
    assert "digits" in error["message"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_standard_constants_are_400(untouched: FlaskClient, constant: str) -> None:
    response = _post(untouched, f'{{"query": "q", "context": {{"x": {constant}}}}}')
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"query": "\\udc00"}', "query"),
        ('{"query": "ok \\ud800 then"}', "query"),
        ('{"query": "ok", "context": "\\udc00"}', "context"),
        ('{"query": "ok", "context": {"notes": ["fine", "\\udfff"]}}', "context.notes.1"),
        ('{"query": "ok", "context": {"\\udc00": 1}}', "context.\\udc00"),
        ('{"query": "ok", "campaign_id": "az\\udc00"}', "campaign_id"),
        ('{"query": "ok", "analysis_type": "\\udc00"}', "analysis_type"),
    ],
)
def test_lone_surrogate_is_422_naming_the_field_and_takes_no_path(
    faked: Faked, raw: str, field: str
) -> None:
    client, parts = faked()
    for path in (ANALYZE, ANALYSES):
        response = _post(client, raw, path)
        assert response.status_code == 422, response.data
        error = response.get_json()["error"]
        assert error["code"] == "validation_error"
        assert error["field"] == field
        assert "surrogate" in error["message"]
    assert parts.publisher.published == []
    assert parts.direct.calls == []


def test_a_valid_surrogate_pair_is_fine(faked: Faked) -> None:
    client, parts = faked(sync_timeout_s=0.05)
    response = _post(client, '{"query": "vote \\ud83d\\uddf3"}')
    assert response.status_code == 202
    [published] = parts.publisher.published
    assert published.query == "vote \U0001f5f3"

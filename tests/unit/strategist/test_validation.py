"""Bad input is answered with a JSON 4xx naming the field, without touching any client."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from schemas.query import MAX_CONTEXT_CHARS, MAX_QUERY_CHARS
from tests.unit.strategist.conftest import admin_client

ANALYZE = "/api/v1/strategist/analyze"
ANALYSES = "/api/v1/strategist/analyses"


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.is_json, response.data
    return response.get_json()["error"]


@pytest.mark.parametrize("path", [ANALYZE, ANALYSES])
def test_body_not_sent_as_json_is_400(untouched: FlaskClient, path: str) -> None:
    response = untouched.post(path, data="query=hello", content_type="text/plain")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_content_type"
    assert "text/plain" in error["message"]


def test_malformed_json_is_400(untouched: FlaskClient) -> None:
    response = untouched.post(ANALYZE, data='{"query": ', content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_json"


def test_invalid_utf8_is_400(untouched: FlaskClient) -> None:
    response = untouched.post(ANALYZE, data=b'{"query": "\xff"}', content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid_json"


@pytest.mark.parametrize("body", ["[1, 2]", '"just a string"', "42", "null"])
def test_body_must_be_an_object(untouched: FlaskClient, body: str) -> None:
    response = untouched.post(ANALYZE, data=body, content_type="application/json")
    assert response.status_code == 422
    assert "JSON object" in _error(response)["message"]


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({}, "query", "required"),
        ({"query": None}, "query", "string"),
        ({"query": ""}, "query", "at least 1"),
        ({"query": "   \n"}, "query", "blank"),
        ({"query": 42}, "query", "string"),
        ({"query": "x" * (MAX_QUERY_CHARS + 1)}, "query", str(MAX_QUERY_CHARS)),
        ({"query": "ok", "priority": "high"}, "priority", "unknown field"),
        ({"query": "ok", "analysis_type": "x" * 65}, "analysis_type", "64"),
        ({"query": "ok", "campaign_id": ""}, "campaign_id", "at least 1"),
        ({"query": "ok", "context": ["a", "b"]}, "context", ""),
        (
            {"query": "ok", "context": "c" * (MAX_CONTEXT_CHARS + 1)},
            "context",
            str(MAX_CONTEXT_CHARS),
        ),
        ({"query": "ok", "options": {"prefer": "cheapest"}}, "options.prefer", "balanced"),
        ({"query": "ok", "options": {"providers": ["openai"]}}, "options.providers.0", ""),
        ({"query": "ok", "options": {"max_output_tokens": 1}}, "options.max_output_tokens", "16"),
        ({"query": "ok", "options": {"turbo": True}}, "options.turbo", "unknown field"),
        ({"query": "ok", "options": "fast"}, "options", ""),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    untouched: FlaskClient, body: dict, field: str, fragment: str
) -> None:
    response = untouched.post(ANALYZE, json=body)
    assert response.status_code == 422, response.data
    error = _error(response)
    assert error["code"] == "validation_error"
    assert error["field"] == field
    assert fragment in error["message"]
    assert field in [d["field"] for d in error["details"]]


def test_every_problem_is_listed(untouched: FlaskClient) -> None:
    response = untouched.post(ANALYZE, json={"colour": "red", "options": {"prefer": "x"}})
    fields = {d["field"] for d in _error(response)["details"]}
    assert fields == {"query", "colour", "options.prefer"}


def test_user_input_is_not_echoed(untouched: FlaskClient) -> None:
    secret = "sk-live-do-not-echo"
    response = untouched.post(ANALYZE, json={"query": 42, "options": {"prefer": secret}})
    assert secret not in response.get_data(as_text=True)


def test_oversized_body_is_413_before_anything_else(
    untouched_app: Flask, untouched: FlaskClient
) -> None:
    client = untouched
    limit = untouched_app.config["MAX_CONTENT_LENGTH"]
    response = client.post(ANALYZE, data="x" * (limit + 1), content_type="text/plain")
    assert response.status_code == 413
    error = _error(response)
    assert error["code"] == "payload_too_large"
    assert str(limit) in error["message"]
    big_json = '{"query": "' + "q" * limit + '"}'
    assert client.post(ANALYZE, data=big_json, content_type="application/json").status_code == 413


def test_unknown_route_is_json_404(untouched: FlaskClient) -> None:
    response = untouched.get("/api/v1/strategist/nothing-here")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_wrong_method_is_json_405_with_allow(untouched: FlaskClient) -> None:
    response = untouched.get(ANALYZE)
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]
    assert response.content_type == "application/json"


@pytest.mark.parametrize("bad_id", ["has space", "dots..and", "x" * 65, "semi;colon"])
def test_malformed_analysis_id_is_404_without_asking_redis(
    untouched: FlaskClient, bad_id: str
) -> None:
    response = untouched.get(f"{ANALYSES}/{bad_id}")
    assert response.status_code == 404
    assert _error(response)["field"] == "analysis_id"


def test_healthz_needs_no_client(untouched: FlaskClient) -> None:
    response = untouched.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_create_app_connects_to_nothing(untouched_app: Flask) -> None:
    untouched_app.test_client().post(ANALYZE, json={"query": ""})  # no key: 401
    admin_client(untouched_app).post(ANALYZE, json={"query": ""})  # a key: 422
    assert untouched_app.extensions["strategist"].started is False


def test_unexpected_error_is_a_json_500_without_internals() -> None:
    from strategist import create_app
    from tests.unit.strategist.conftest import make_settings

    app = create_app(make_settings())

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("password=hunter2 at /srv/secret/path.py")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "hunter2" not in body and "secret" not in body and "RuntimeError" not in body

"""`/v1/chat/completions` and `/v1/models` over AnalysisService, on fakes for Kafka and Redis:
the OpenAI shapes, the analysis each request becomes, and every error in OpenAI's shape."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from providers.catalogue import DEFAULT_CATALOGUE, GEMINI_PRO
from schemas.parts import AttemptSummary
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.openai_api import routes as openai_routes
from tests.unit.strategist.conftest import FakedApp, Parts, client_with_key, keyring_of, limiter_of
from tests.unit.strategist.fakes import answered

CHAT = "/v1/chat/completions"
Faked = Callable[..., FakedApp]
Answer = Callable[[QueryRequested], AnalysisResponded]
MESSAGES = [
    {"role": "system", "content": "You advise the Kelly campaign."},
    {"role": "user", "content": "Which counties matter most?"},
    {"role": "assistant", "content": "Maricopa and Pima."},
    {"role": "user", "content": "What do the latest polls say there?"},
]


def with_openai(app: Flask) -> Flask:
    """Register the blueprint unless the factory already does (before and after app.py)."""
    if openai_routes.bp.name not in app.blueprints:
        app.register_blueprint(openai_routes.bp)
    return app


@pytest.fixture
def openai_faked(faked: Faked) -> Callable[..., FakedApp]:
    def build(**overrides: object) -> FakedApp:
        client, parts = faked(**overrides)
        with_openai(client.application)
        return client, parts

    return build


def _pipeline(parts: Parts, make: Answer = answered) -> None:
    """Answer every published query as the scorer would: Redis, then the responses stream."""

    def on_publish(query: QueryRequested) -> None:
        def later() -> None:
            response = make(query)
            parts.store.save(response)
            parts.waiter.dispatch(query.query_id.encode(), response.to_bytes())

        threading.Timer(0.02, later).start()

    parts.publisher.on_publish = on_publish


def _events(body: str) -> list[Any]:
    """The data of each server-sent event ('[DONE]' kept as the string)."""
    events = []
    for block in body.split("\n\n"):
        if not block:
            continue
        assert block.startswith("data: "), block
        data = block.removeprefix("data: ")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def _assert_openai_error(body: dict[str, Any], code: str | None) -> dict[str, Any]:
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["code"] == code
    return error


def test_a_chat_is_one_analysis_and_answers_as_a_chat_completion(openai_faked: Faked) -> None:
    client, parts = openai_faked()
    _pipeline(parts)
    reply = client.post(CHAT, json={"model": "auto", "messages": MESSAGES, "max_tokens": 300})
    assert reply.status_code == 200, reply.text
    body = reply.get_json()
    [query] = parts.publisher.published
    assert query.query == "What do the latest polls say there?"
    assert isinstance(query.context, str)
    assert query.context.index("System: You advise") < query.context.index("User: Which counties")
    assert "Assistant: Maricopa and Pima." in query.context
    assert query.options.model is None
    assert query.options.max_output_tokens == 300
    assert query.campaign_id == "ops"  # the admin key's campaign
    assert body["id"] == f"chatcmpl-{query.query_id}"
    assert body["object"] == "chat.completion"
    assert body["model"] == "sonar"  # the model that answered
    [choice] = body["choices"]
    assert choice["message"] == {
        "role": "assistant",
        "content": f"answer to {query.query}",
        "refusal": None,
    }
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    routing = body["x_routing"]
    assert routing["analysis_id"] == query.query_id
    assert routing["route"][0]["model"] == "sonar"
    assert routing["confidence"] == pytest.approx(0.7)
    assert routing["cost_usd"] >= 0 and routing["explanation"]


def test_a_named_model_is_passed_exactly_as_named(openai_faked: Faked) -> None:
    client, parts = openai_faked()
    _pipeline(parts)
    reply = client.post(CHAT, json={"model": GEMINI_PRO, "messages": MESSAGES[-1:]})
    assert reply.status_code == 200, reply.text
    [query] = parts.publisher.published
    assert query.options.model == GEMINI_PRO
    assert query.context is None


def test_an_unknown_model_is_404_model_not_found_and_nothing_runs(openai_faked: Faked) -> None:
    client, parts = openai_faked()
    reply = client.post(CHAT, json={"model": "gpt-4o", "messages": MESSAGES})
    assert reply.status_code == 404
    error = _assert_openai_error(reply.get_json(), "model_not_found")
    assert error["type"] == "invalid_request_error" and error["param"] == "model"
    assert parts.publisher.published == []


def test_a_stream_carries_the_whole_answer_in_chunks_then_usage_then_done(
    openai_faked: Faked,
) -> None:
    client, parts = openai_faked()
    long_text = " ".join(f"word{i}" for i in range(60))

    def long_answer(query: QueryRequested) -> AnalysisResponded:
        return answered(query).model_copy(update={"result": long_text})

    _pipeline(parts, long_answer)
    reply = client.post(
        CHAT,
        json={
            "model": "auto",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
            "x_stream_mode": "buffered",
        },
    )
    assert reply.status_code == 200
    assert reply.mimetype == "text/event-stream"
    events = _events(reply.get_data(as_text=True))
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    [query] = parts.publisher.published
    assert {c["id"] for c in chunks} == {f"chatcmpl-{query.query_id}"}
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "sonar" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == long_text
    assert len(chunks) > 4  # cut into several deltas
    finish = chunks[-2]
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["x_routing"]["analysis_id"] == query.query_id
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0


def test_a_stream_without_include_usage_has_no_usage_chunk(openai_faked: Faked) -> None:
    client, parts = openai_faked()
    _pipeline(parts)
    reply = client.post(CHAT, json={"model": "auto", "messages": MESSAGES, "stream": True,
                                    "x_stream_mode": "buffered"})
    chunks = _events(reply.get_data(as_text=True))[:-1]
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def _failed(update: dict[str, Any]) -> Answer:
    def make(query: QueryRequested) -> AnalysisResponded:
        return answered(query, failed=True).model_copy(update=update)

    return make


@pytest.mark.parametrize("stream", [False, True])
def test_no_provider_answering_is_502_with_the_routing(openai_faked: Faked, stream: bool) -> None:
    client, parts = openai_faked()
    _pipeline(parts, _failed({}))
    reply = client.post(CHAT, json={"model": "auto", "messages": MESSAGES, "stream": stream})
    assert reply.status_code == 502
    body = reply.get_json()
    assert _assert_openai_error(body, "provider_error")["type"] == "api_error"
    assert body["x_routing"]["failed_attempts"][0]["error_kind"] == "unavailable"


def test_an_exhausted_budget_is_402(openai_faked: Faked) -> None:
    client, parts = openai_faked()
    _pipeline(parts, _failed({"error": "budget_exhausted: campaign ops has reached its limit"}))
    reply = client.post(CHAT, json={"model": "auto", "messages": MESSAGES})
    assert reply.status_code == 402
    assert _assert_openai_error(reply.get_json(), "budget_exhausted")["type"] == (
        "insufficient_quota"
    )


def test_content_blocked_is_400_with_the_providers_message(openai_faked: Faked) -> None:
    client, parts = openai_faked()
    blocked = AttemptSummary(
        provider="gemini",
        model=GEMINI_PRO,
        outcome="error",
        error_kind="content_blocked",
        error_message="response blocked: SAFETY",
    )

    def make(query: QueryRequested) -> AnalysisResponded:
        response = answered(query, failed=True)
        routing = response.routing.model_copy(update={"failed_attempts": [blocked]})
        return response.model_copy(update={"routing": routing})

    _pipeline(parts, make)
    reply = client.post(CHAT, json={"model": "auto", "messages": MESSAGES})
    assert reply.status_code == 400
    error = _assert_openai_error(reply.get_json(), "content_filter")
    assert error["message"] == "gemini/gemini-2.5-pro: response blocked: SAFETY"


def test_an_answer_not_ready_in_time_is_504_that_the_sdk_does_not_retry(
    openai_faked: Faked,
) -> None:
    client, parts = openai_faked(sync_timeout_s=0.2)  # nothing answers
    reply = client.post(CHAT, json={"model": "auto", "messages": MESSAGES})
    assert reply.status_code == 504
    assert reply.headers["x-should-retry"] == "false"
    body = reply.get_json()
    _assert_openai_error(body, "analysis_pending")
    [query] = parts.publisher.published
    assert body["x_routing"]["analysis_id"] == query.query_id
    assert query.query_id in body["error"]["message"]


def test_models_lists_auto_and_every_catalogued_model(openai_faked: Faked) -> None:
    client, _ = openai_faked()
    body = client.get("/v1/models").get_json()
    assert body["object"] == "list"
    ids = [entry["id"] for entry in body["data"]]
    assert ids == ["auto", *(spec.model_id for spec in DEFAULT_CATALOGUE.models)]
    assert all(entry["object"] == "model" for entry in body["data"])
    assert client.get(f"/v1/models/{GEMINI_PRO}").get_json()["owned_by"] == "gemini"
    assert client.get("/v1/models/nope").status_code == 404


def _strategist_client(client: FlaskClient, campaign: str) -> FlaskClient:
    app = client.application
    return client_with_key(app, keyring_of(app).add(campaign, role="strategist"))


def test_a_strategist_key_runs_for_its_own_campaign_only(openai_faked: Faked) -> None:
    client, parts = openai_faked()
    _pipeline(parts)
    strategist = _strategist_client(client, "az-senate")
    assert strategist.post(CHAT, json={"model": "auto", "messages": MESSAGES}).status_code == 200
    assert parts.publisher.published[0].campaign_id == "az-senate"
    other = {"model": "auto", "messages": MESSAGES, "metadata": {"campaign_id": "nv"}}
    reply = strategist.post(CHAT, json=other)
    assert reply.status_code == 403
    error = _assert_openai_error(reply.get_json(), "campaign_forbidden")
    assert error["param"] == "metadata.campaign_id"


def test_keys_are_checked_as_on_the_strategist_api(openai_faked: Faked) -> None:
    client, _ = openai_faked()
    app = client.application
    anonymous = client_with_key(app, None)
    for path in ("/v1/models", "/v1/nothing-here"):
        reply = anonymous.get(path)
        assert reply.status_code == 401
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        assert _assert_openai_error(reply.get_json(), "unauthorized")["type"] == (
            "authentication_error"
        )
    assert client_with_key(app, "sk-unknown").get("/v1/models").status_code == 401
    key = keyring_of(app).add("az", role="strategist", key_id="key_limited")
    limiter_of(app).wait_s["key_limited"] = 7
    limited = client_with_key(app, key).get("/v1/models")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    _assert_openai_error(limited.get_json(), "rate_limited")
    keyring_of(app).revoke(key)
    assert client_with_key(app, key).get("/v1/models").status_code == 403


BAD_BODIES = [
    ({"messages": MESSAGES}, "model", "missing_required_parameter"),
    ({"model": "auto"}, "messages", "missing_required_parameter"),
    ({"model": "auto", "messages": []}, "messages", "invalid_value"),
    ({"model": "auto", "messages": [{"role": "robot", "content": "hi"}]}, "messages[0].role",
     "invalid_value"),
    ({"model": "auto", "messages": MESSAGES, "temperature": 3}, "temperature", "invalid_value"),
    ({"model": "auto", "messages": MESSAGES, "n": 2}, "n", "unsupported_parameter"),
    ({"model": "auto", "messages": MESSAGES, "tools": [{"type": "function"}]}, "tools",
     "unsupported_parameter"),
    ({"model": "auto", "messages": MESSAGES, "response_format": {"type": "json_object"}},
     "response_format", "unsupported_parameter"),
    ({"model": "auto", "messages": [{"role": "system", "content": "be brief"}]}, "messages",
     "invalid_value"),
    ({"model": "auto", "messages": [{"role": "user", "content": "  "}]},
     "messages[0].content", "invalid_value"),
    ({"model": "auto", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]},
     "messages[0].content[0].type", "unsupported_parameter"),
    ({"model": "auto", "messages": [{"role": "user", "content": "x" * 20_001}]},
     "messages[0].content", "string_above_max_length"),
    ({"model": "auto", "messages": [{"role": "tool", "content": "42"}]}, "messages[0].role",
     "unsupported_parameter"),
    ([1, 2], None, "invalid_value"),
]


@pytest.mark.parametrize(("body", "param", "code"), BAD_BODIES)
def test_bad_bodies_are_400_naming_the_parameter_and_touch_nothing(
    untouched_app: Flask, untouched: FlaskClient, body: Any, param: str | None, code: str
) -> None:
    with_openai(untouched_app)
    reply = untouched.post(CHAT, json=body)
    assert reply.status_code == 400, reply.text
    error = _assert_openai_error(reply.get_json(), code)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        ("{not json", "application/json", "invalid_json"),
        ('{"model": "auto"}', "text/plain", "invalid_content_type"),
        ('{"model": "\\udc00", "messages": []}', "application/json", "validation_error"),
    ],
)
def test_unreadable_json_is_400_in_openais_shape(
    untouched_app: Flask, untouched: FlaskClient, data: str, content_type: str, code: str
) -> None:
    with_openai(untouched_app)
    reply = untouched.post(CHAT, data=data, content_type=content_type)
    assert reply.status_code == 400
    _assert_openai_error(reply.get_json(), code)


def test_a_body_over_the_size_limit_is_413_in_openais_shape(
    untouched_app: Flask, untouched: FlaskClient
) -> None:
    with_openai(untouched_app)
    limit = untouched_app.config["MAX_CONTENT_LENGTH"]
    reply = untouched.post(CHAT, data="x" * (limit + 1), content_type="application/json")
    assert reply.status_code == 413
    _assert_openai_error(reply.get_json(), "payload_too_large")


def test_other_paths_and_methods_under_v1_answer_in_openais_shape(
    untouched_app: Flask, untouched: FlaskClient
) -> None:
    with_openai(untouched_app)
    wrong_method = untouched.get(CHAT)
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    _assert_openai_error(wrong_method.get_json(), "method_not_allowed")
    unknown = untouched.post("/v1/embeddings", json={})
    assert unknown.status_code == 404
    _assert_openai_error(unknown.get_json(), "not_found")

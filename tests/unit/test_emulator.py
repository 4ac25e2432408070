"""The emulator's HTTP surface through Flask's test client: shapes, usage, faults, control API."""

from __future__ import annotations

import math

import pytest
from flask.testing import FlaskClient

from emulator import create_app
from emulator.answers import complexity, compose
from emulator.citations import search_results
from emulator.faults import MODES
from emulator.profiles import PROFILES

GEMINI_KEY = {"x-goog-api-key": "test-key"}
BEARER = {"Authorization": "Bearer test-key"}
STRATEGY = (
    "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs between "
    "turnout and persuasion spending, segment by segment, and compare two scenarios."
)


@pytest.fixture
def client() -> FlaskClient:
    return create_app(latency_scale=0.0).test_client()


def generate(client: FlaskClient, model: str, text: str, version: str = "v1beta", **extra):
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}], **extra}
    return client.post(f"/{version}/models/{model}:generateContent", json=body, headers=GEMINI_KEY)


def chat(client: FlaskClient, model: str, text: str, **extra):
    body = {"model": model, "messages": [{"role": "user", "content": text}], **extra}
    return client.post("/chat/completions", json=body, headers=BEARER)


@pytest.mark.parametrize("version", ["v1", "v1beta"])
def test_gemini_generate_content_shape(client, version):
    response = generate(
        client, "gemini-2.5-pro", "Where should we canvass in Maricopa County?", version=version
    )
    assert response.status_code == 200
    body = response.get_json()
    candidate = body["candidates"][0]
    text = candidate["content"]["parts"][0]["text"]
    assert candidate["content"]["role"] == "model"
    assert candidate["finishReason"] == "STOP"
    assert text.startswith("[emulated gemini-2.5-pro]") and "Maricopa County" in text
    assert -0.6 <= candidate["avgLogprobs"] <= -0.05
    usage = body["usageMetadata"]
    assert usage["candidatesTokenCount"] == math.ceil(len(text) / 4)
    assert 150 <= usage["candidatesTokenCount"] <= 600
    assert usage["thoughtsTokenCount"] > 0
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )
    assert body["modelVersion"] == "gemini-2.5-pro"


def test_gemini_key_as_query_parameter(client):
    response = client.post(
        "/v1/models/gemini-2.5-flash:generateContent?key=abc",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    assert response.status_code == 200
    assert "thoughtsTokenCount" not in response.get_json()["usageMetadata"]


def test_answers_are_deterministic_and_model_dependent(client):
    first = generate(client, "gemini-2.5-flash", "Turnout in Erie County").get_json()
    again = generate(client, "gemini-2.5-flash", "Turnout in Erie County").get_json()
    pro = generate(client, "gemini-2.5-pro", "Turnout in Erie County").get_json()
    text = first["candidates"][0]["content"]["parts"][0]["text"]
    assert text == again["candidates"][0]["content"]["parts"][0]["text"]
    pro_text = pro["candidates"][0]["content"]["parts"][0]["text"]
    assert len(pro_text) > len(text)


def test_certainty_is_lower_for_complex_prompts():
    profile = PROFILES["gemini-2.5-flash"]
    simple = compose(profile, "Fix this tweet's spelling", None)
    hard = compose(profile, STRATEGY * 3, None)
    assert complexity(STRATEGY * 3) > complexity("Fix this tweet's spelling")
    assert hard.avg_logprob < simple.avg_logprob


def test_gemini_prompt_tokens_count_system_instruction(client):
    question, system = "q" * 400, "s" * 200
    body = generate(
        client, "gemini-2.5-flash", question, systemInstruction={"parts": [{"text": system}]}
    ).get_json()
    assert body["usageMetadata"]["promptTokenCount"] == 150


def test_gemini_max_output_tokens_truncates(client):
    body = generate(
        client, "gemini-2.5-flash", "Long answer please", generationConfig={"maxOutputTokens": 10}
    ).get_json()
    assert body["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert body["usageMetadata"]["candidatesTokenCount"] <= 10


def test_gemini_models_get(client):
    response = client.get("/v1beta/models/gemini-2.5-flash", headers=GEMINI_KEY)
    assert response.status_code == 200
    assert response.get_json()["name"] == "models/gemini-2.5-flash"
    assert client.get("/v1/models/nope", headers=GEMINI_KEY).status_code == 404
    listed = client.get("/v1/models", headers=GEMINI_KEY).get_json()["models"]
    assert {"models/gemini-2.5-pro", "models/gemini-2.5-flash"} <= {m["name"] for m in listed}


@pytest.mark.parametrize(
    ("headers", "status", "google_status"),
    [
        ({}, 403, "PERMISSION_DENIED"),
        ({"x-goog-api-key": "an-invalid-key"}, 400, "INVALID_ARGUMENT"),
    ],
)
def test_gemini_key_problems(client, headers, status, google_status):
    response = client.post(
        "/v1beta/models/gemini-2.5-flash:generateContent",
        json={"contents": [{"parts": [{"text": "x"}]}]},
        headers=headers,
    )
    assert response.status_code == status
    assert response.get_json()["error"]["status"] == google_status


def test_gemini_bad_requests(client):
    empty = client.post(
        "/v1beta/models/gemini-2.5-flash:generateContent", json={}, headers=GEMINI_KEY
    )
    assert empty.status_code == 400
    assert empty.get_json()["error"]["status"] == "INVALID_ARGUMENT"
    unknown = generate(client, "text-bison", "hi")
    assert unknown.status_code == 404
    assert unknown.get_json()["error"]["status"] == "NOT_FOUND"


def test_perplexity_chat_shape(client):
    response = chat(client, "sonar", "latest polls in Arizona this week")
    assert response.status_code == 200
    body = response.get_json()
    text = body["choices"][0]["message"]["content"]
    assert body["object"] == "chat.completion" and body["model"] == "sonar"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert text.startswith("[emulated sonar]") and "Arizona" in text
    assert body["usage"]["completion_tokens"] == math.ceil(len(text) / 4)
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    assert body["usage"]["search_context_size"] == "low"
    assert body["citations"] == [r["url"] for r in body["search_results"]]
    assert all({"title", "url", "date"} <= set(r) for r in body["search_results"])
    assert any("azsos.gov" in url for url in body["citations"])


def test_citations_are_deterministic_and_varied():
    first = search_results("turnout among young voters in Georgia", 6)
    assert first == search_results("turnout among young voters in Georgia", 6)
    assert len({r.url for r in first}) == 6
    assert "sos.ga.gov" in first[0].url
    queries = [f"polling question number {n}" for n in range(40)]
    low_quality = sum(
        any(d in r.url for r in search_results(q, 8) for d in ("blogspot", "buzz", "medium"))
        for q in queries
    )
    assert 2 <= low_quality <= 25, "some, not most, answers cite a low-quality blog"


def test_perplexity_errors(client):
    no_key = client.post("/chat/completions", json={"model": "sonar", "messages": []})
    assert no_key.status_code == 401
    bad_model = chat(client, "gpt-4", "hi")
    assert bad_model.status_code == 400
    assert "Invalid model" in bad_model.get_json()["error"]["message"]
    no_messages = client.post(
        "/chat/completions", json={"model": "sonar", "messages": []}, headers=BEARER
    )
    assert no_messages.status_code == 400
    probe = chat(client, "sonar", "ping", max_tokens=1)
    assert probe.get_json()["usage"]["completion_tokens"] == 1
    assert probe.get_json()["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize(
    ("mode", "status", "google_status"),
    [
        ("down", 503, "UNAVAILABLE"),
        ("error", 500, "INTERNAL"),
        ("rate_limit", 429, "RESOURCE_EXHAUSTED"),
        ("bad_request", 400, "INVALID_ARGUMENT"),
    ],
)
def test_fault_modes_apply_to_every_endpoint(client, mode, status, google_status):
    client.put("/_control/providers/gemini", json={"mode": mode})
    client.put("/_control/providers/perplexity", json={"mode": mode})
    for response in (
        generate(client, "gemini-2.5-flash", "hi"),
        client.get("/v1/models/gemini-2.5-flash", headers=GEMINI_KEY),
    ):
        assert response.status_code == status
        assert response.get_json()["error"]["status"] == google_status
    openai_style = chat(client, "sonar", "hi")
    assert openai_style.status_code == status
    assert set(openai_style.get_json()["error"]) == {"message", "type", "code"}
    if mode == "rate_limit":
        assert openai_style.headers["Retry-After"] == "1"


def test_control_api_validation(client):
    unknown_mode = client.put("/_control/providers/gemini", json={"mode": "sideways"})
    assert unknown_mode.status_code == 400
    assert unknown_mode.get_json()["field"] == "mode"
    assert set(unknown_mode.get_json()["modes"]) == set(MODES)
    assert client.put("/_control/providers/gemini", data="nope").status_code == 400
    unknown_provider = client.put("/_control/providers/anthropic", json={"mode": "down"})
    assert unknown_provider.status_code == 400
    assert "anthropic" in unknown_provider.get_json()["error"]
    assert client.get("/_control/requests?provider=anthropic").status_code == 400


def test_counters_and_reset(client):
    state = client.get("/_control/providers").get_json()
    assert state["gemini"]["requests"] == 0 and state["perplexity"]["mode"] == "ok"
    generate(client, "gemini-2.5-flash", "hi")
    client.put("/_control/providers/gemini", json={"mode": "down"})
    generate(client, "gemini-2.5-flash", "hi")
    client.get("/v1/models/gemini-2.5-flash", headers=GEMINI_KEY)
    counts = client.get("/_control/requests?provider=gemini").get_json()
    assert set(counts) == {"gemini"}
    assert counts["gemini"]["requests"] == 3
    assert counts["gemini"]["by_mode"] == {"ok": 1, "down": 2}
    assert counts["gemini"]["by_endpoint"] == {"generate": 2, "probe": 1}
    reset = client.post("/_control/reset").get_json()
    assert reset["gemini"] == {
        "mode": "ok",
        "options": {"retry_after_s": 1.0, "delay_s": 6.0, "after_chunks": 2, "times": None},
        "requests": 0,
        "by_mode": {},
        "by_endpoint": {},
        "hanging": 0,
    }


def test_unknown_routes_answer_json(client):
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == 404

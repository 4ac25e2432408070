"""The emulator's fault modes and streams through Flask's test client (no sockets)."""

from __future__ import annotations

import json
import threading

import pytest
from flask.testing import FlaskClient

from emulator import create_app
from emulator.streams import MALFORMED_EVENT

GEMINI_KEY = {"x-goog-api-key": "test-key"}
BEARER = {"Authorization": "Bearer test-key"}
STREAM_URL = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"


@pytest.fixture
def client() -> FlaskClient:
    return create_app(latency_scale=0.0).test_client()


def set_mode(client: FlaskClient, provider: str, mode: str, **options: object):
    return client.put(f"/_control/providers/{provider}", json={"mode": mode, **options})


def gemini_stream(client: FlaskClient):
    body = {"contents": [{"role": "user", "parts": [{"text": "Turnout in Erie County"}]}]}
    return client.post(STREAM_URL, json=body, headers=GEMINI_KEY)


def chat(client: FlaskClient, path: str, *, stream: bool, include_usage: bool = False):
    body: dict[str, object] = {
        "model": "sonar" if path == "/chat/completions" else "any-model-id",
        "messages": [{"role": "user", "content": "Turnout in Erie County"}],
        "stream": stream,
    }
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    return client.post(path, json=body, headers=BEARER)


def events(response) -> list[bytes]:
    return [e for e in response.get_data().split(b"\n\n") if e]


def test_gemini_streams_chunks_whose_last_has_finish_reason_and_usage(client):
    response = gemini_stream(client)
    assert response.mimetype == "text/event-stream"
    chunks = [json.loads(e.removeprefix(b"data: ")) for e in events(response)]
    assert len(chunks) > 2
    last = chunks[-1]["candidates"][0]
    assert last["finishReason"] == "STOP" and "avgLogprobs" in last
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] > 0
    assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    text = "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks)
    assert text.startswith("[emulated gemini-2.5-flash]")


@pytest.mark.parametrize(
    ("path", "include_usage", "usage_chunk"),
    [
        ("/openai/v1/chat/completions", False, False),
        ("/openai/v1/chat/completions", True, True),
        ("/chat/completions", False, True),  # Perplexity always sends its usage
    ],
)
def test_chat_streams_end_with_done_and_usage_only_when_asked(
    client, path, include_usage, usage_chunk
):
    found = events(chat(client, path, stream=True, include_usage=include_usage))
    assert found[-1] == b"data: [DONE]"
    payloads = [json.loads(e.removeprefix(b"data: ")) for e in found[:-1]]
    finishes = [p["choices"][0]["finish_reason"] for p in payloads if p["choices"]]
    assert finishes[-1] == "stop" and set(finishes[:-1]) == {None}
    assert (payloads[-1]["choices"] == [] and payloads[-1]["usage"]["total_tokens"] > 0) is (
        usage_chunk
    )


def test_malformed_sends_one_bad_event_then_the_rest(client):
    clean = events(gemini_stream(client))
    set_mode(client, "gemini", "malformed", after_chunks=1)
    faulty = events(gemini_stream(client))
    assert faulty == clean[:1] + [MALFORMED_EVENT.rstrip(b"\n")] + clean[1:]


def test_cut_stops_before_the_final_event(client):
    set_mode(client, "openai", "cut", after_chunks=2)
    found = events(chat(client, "/openai/v1/chat/completions", stream=True))
    assert len(found) == 2 and b"[DONE]" not in found[-1] and b'"stop"' not in b"".join(found)


def test_no_final_marker_sends_every_chunk_but_done(client):
    set_mode(client, "openai", "no_final_marker")
    # the test client reads to the end, so release the held connection by changing mode
    app_state = client.application.extensions["emulator"]
    threading.Timer(0.2, lambda: app_state.board.set_mode("openai", "ok")).start()
    found = events(chat(client, "/openai/v1/chat/completions", stream=True, include_usage=True))
    assert b"[DONE]" not in found[-1] and b'"usage":{' in found[-1]


def test_error_once_spares_probes_and_fails_one_completion(client):
    set_mode(client, "gemini", "error_once")
    assert client.get("/v1/models/gemini-2.5-flash", headers=GEMINI_KEY).status_code == 200
    assert gemini_stream(client).status_code == 500
    assert gemini_stream(client).status_code == 200


def test_rate_limit_tells_its_configured_wait_in_every_shape(client):
    set_mode(client, "gemini", "rate_limit", retry_after_s=2.5)
    set_mode(client, "openai", "rate_limit", retry_after_s=2.5)
    gemini = gemini_stream(client)
    assert gemini.status_code == 429 and gemini.headers["Retry-After"] == "3"
    assert gemini.get_json()["error"]["details"][0]["retryDelay"] == "2.5s"
    openai = chat(client, "/openai/v1/chat/completions", stream=False)
    assert openai.status_code == 429 and openai.headers["retry-after-ms"] == "2500"


def test_content_filter_and_context_in_the_real_shapes(client):
    set_mode(client, "gemini", "content_filter")
    blocked = json.loads(events(gemini_stream(client))[0].removeprefix(b"data: "))
    assert blocked["promptFeedback"]["blockReason"] == "SAFETY" and "candidates" not in blocked
    set_mode(client, "openai", "content_filter")
    refused = chat(client, "/openai/v1/chat/completions", stream=True)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "content_filter"
    set_mode(client, "openai", "context_too_long")
    too_long = chat(client, "/openai/v1/chat/completions", stream=False).get_json()["error"]
    assert too_long["code"] == "context_length_exceeded"
    assert "maximum context length" in too_long["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "rate_limit", "retry_after_s": -1}, "retry_after_s"),
        ({"mode": "slow_first_token", "delay_s": "soon"}, "delay_s"),
        ({"mode": "cut", "after_chunks": 1.5}, "after_chunks"),
    ],
)
def test_bad_options_are_refused_naming_the_field(client, body, field):
    response = client.put("/_control/providers/gemini", json=body)
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_options_are_shown_and_reset(client):
    set_mode(client, "perplexity", "stall", after_chunks=5)
    state = client.get("/_control/providers").get_json()["perplexity"]
    assert state["mode"] == "stall" and state["options"]["after_chunks"] == 5
    reset = client.post("/_control/reset").get_json()["perplexity"]
    assert reset["mode"] == "ok" and reset["options"]["after_chunks"] == 2


def test_a_fault_set_for_a_number_of_times_serves_that_many_completions_then_ok(client):
    set_mode(client, "gemini", "cut", after_chunks=2, times=1)
    first, second = events(gemini_stream(client)), events(gemini_stream(client))
    assert len(first) == 2 and b'"finishReason"' not in b"".join(first)
    assert b'"finishReason"' in second[-1]
    assert set_mode(client, "gemini", "cut", times=0).status_code == 400

"""The emulator keeps connections alive and says how long it served each call."""

from __future__ import annotations

import socket

import httpx
import pytest

from emulator import create_app
from emulator.server import KeepAliveRequestHandler
from tests.support.emulator_server import running_emulator

CHAT = {"model": "sonar", "messages": [{"role": "user", "content": "early vote in Nevada"}]}
BEARER = {"Authorization": "Bearer k"}
GEMINI = {"contents": [{"parts": [{"text": "Door-knocking plan for Reno"}]}]}
KEY = {"x-goog-api-key": "k"}
TIMEOUT_S = 10.0


def _client_port(response: httpx.Response) -> int:
    return response.extensions["network_stream"].get_extra_info("client_addr")[1]


def test_two_calls_over_one_client_share_one_connection():
    with running_emulator() as url, httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
        first = client.post("/chat/completions", json=CHAT, headers=BEARER)
        gemini = "/v1/models/gemini-2.5-flash:generateContent"
        second = client.post(gemini, json=GEMINI, headers=KEY)
        assert first.status_code == second.status_code == 200
        assert first.headers.get("connection", "").lower() != "close"
        assert _client_port(first) == _client_port(second)


def test_stream_and_an_unread_body_leave_the_connection_usable():
    with running_emulator() as url, httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
        client.put("/_control/providers/perplexity", json={"mode": "error"}).raise_for_status()
        refused = client.post("/chat/completions", json=CHAT, headers=BEARER)  # body unread
        client.post("/_control/reset").raise_for_status()
        with client.stream(
            "POST", "/chat/completions", json={**CHAT, "stream": True}, headers=BEARER
        ) as streamed:
            events = streamed.read().decode()
        after = client.post("/chat/completions", json=CHAT, headers=BEARER)
        assert refused.status_code == 500
        assert events.rstrip().endswith("data: [DONE]")
        assert after.status_code == 200 and after.json()["choices"]
        assert _client_port(refused) == _client_port(streamed) == _client_port(after)


@pytest.mark.parametrize(
    ("path", "body", "headers", "openai_style"),
    [
        ("/chat/completions", CHAT, BEARER, True),
        ("/openai/v1/chat/completions", {**CHAT, "model": "gpt-4o-mini"}, BEARER, True),
        ("/v1/models/gemini-2.5-flash:generateContent", GEMINI, KEY, False),
    ],
)
def test_service_time_headers_cover_the_latency(path, body, headers, openai_style):
    client = create_app(latency_scale=0.2).test_client()
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200
    service_ms = float(response.headers["x-emulator-service-ms"])
    assert service_ms > 20, "the scaled model latency is part of the service time"
    if openai_style:
        assert abs(int(response.headers["openai-processing-ms"]) - service_ms) <= 1
    else:
        assert "openai-processing-ms" not in response.headers


def test_a_streams_service_time_includes_its_scheduled_pauses():
    client = create_app(latency_scale=0.2).test_client()
    whole = client.post("/chat/completions", json=CHAT, headers=BEARER)
    streamed = client.post("/chat/completions", json={**CHAT, "stream": True}, headers=BEARER)
    whole_ms = float(whole.headers["x-emulator-service-ms"])
    stream_ms = float(streamed.headers["x-emulator-service-ms"])
    assert stream_ms == pytest.approx(whole_ms, rel=0.3)


def test_control_responses_carry_no_service_time():
    response = create_app(latency_scale=0.0).test_client().get("/_control/providers")
    assert "x-emulator-service-ms" not in response.headers


def test_latency_scale_changes_at_run_time():
    client = create_app(latency_scale=0.0).test_client()
    instant = client.post("/chat/completions", json=CHAT, headers=BEARER)
    assert client.put("/_control/latency", json={"scale": 0.2}).get_json() == {"scale": 0.2}
    slowed = client.post("/chat/completions", json=CHAT, headers=BEARER)
    assert client.put("/_control/latency", json={"scale": -1}).status_code == 400
    assert client.get("/_control/latency").get_json() == {"scale": 0.2}
    assert float(slowed.headers["x-emulator-service-ms"]) > 20
    assert float(instant.headers["x-emulator-service-ms"]) < float(
        slowed.headers["x-emulator-service-ms"]
    )


def test_connections_are_served_without_nagles_delay():
    """A streamed event must leave when written: with Nagle's algorithm on, a small write
    waits for the client's delayed ACK (about 40 ms), counted as pipeline overhead."""
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname()),
    ):
        accepted, _ = listener.accept()
        with accepted:
            handler = KeepAliveRequestHandler.__new__(KeepAliveRequestHandler)
            handler.request = accepted
            handler.setup()
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0

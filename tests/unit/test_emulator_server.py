"""The emulator as a threaded server: latency, hang and slow modes, many calls at once."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from emulator import create_app, faults, modes, streams
from tests.support.emulator_server import running_emulator

CHAT = {"model": "sonar", "messages": [{"role": "user", "content": "early vote in Nevada"}]}
BEARER = {"Authorization": "Bearer k"}
GEMINI = {"contents": [{"parts": [{"text": "Door-knocking plan for Reno"}]}]}
KEY = {"x-goog-api-key": "k"}
CONCURRENT_CALLS = 250


def _timed(call) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = call()
    return time.monotonic() - started, response


def test_latency_scale_shapes_answer_time():
    client = create_app(latency_scale=1.0).test_client()
    flash, _ = _timed(
        lambda: client.post("/v1/models/gemini-2.5-flash:generateContent", json=GEMINI, headers=KEY)
    )
    sonar, _ = _timed(lambda: client.post("/chat/completions", json=CHAT, headers=BEARER))
    probe, _ = _timed(
        lambda: client.post("/chat/completions", json={**CHAT, "max_tokens": 1}, headers=BEARER)
    )
    assert 0.2 < flash < 1.0
    assert 0.4 < sonar < 1.5
    assert probe < min(0.6, sonar), "a one-token completion is quick"
    instant = create_app(latency_scale=0.0).test_client()
    zero, _ = _timed(lambda: instant.post("/chat/completions", json=CHAT, headers=BEARER))
    assert zero < 0.1


def test_latency_scale_from_environment(monkeypatch):
    monkeypatch.setenv("EMULATOR_LATENCY_SCALE", "0.25")
    app = create_app()
    assert app.extensions["emulator"].latency_scale == 0.25
    with pytest.raises(ValueError):
        create_app(latency_scale=-1)


def test_hang_holds_only_its_own_request_and_ends_with_503_when_released():
    with running_emulator() as url:
        httpx.put(f"{url}/_control/providers/gemini", json={"mode": "hang"}).raise_for_status()
        outcome: dict[str, object] = {}

        def hanging_call() -> None:
            outcome["elapsed"], outcome["response"] = _timed(
                lambda: httpx.post(
                    f"{url}/v1beta/models/gemini-2.5-flash:generateContent",
                    json=GEMINI,
                    headers=KEY,
                    timeout=30,
                )
            )

        thread = threading.Thread(target=hanging_call)
        thread.start()
        deadline = time.monotonic() + 5
        while httpx.get(f"{url}/_control/providers").json()["gemini"]["hanging"] != 1:
            assert time.monotonic() < deadline, "request never started hanging"
            time.sleep(0.02)
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(f"{url}/v1/models/gemini-2.5-flash", headers=KEY, timeout=0.3)
        elapsed, other = _timed(
            lambda: httpx.post(f"{url}/chat/completions", json=CHAT, headers=BEARER, timeout=5)
        )
        assert other.status_code == 200 and elapsed < 1.0, "perplexity unaffected"
        httpx.put(f"{url}/_control/providers/gemini", json={"mode": "ok"}).raise_for_status()
        thread.join(timeout=5)
        response = outcome["response"]
        assert isinstance(response, httpx.Response) and response.status_code == 503
        assert response.json()["error"]["status"] == "UNAVAILABLE"


def test_slow_answers_correctly_but_late(monkeypatch):
    assert faults.SLOW_DELAY_S >= 6.0, "slow must trip the 4 s attempt timeout"
    monkeypatch.setattr(modes, "SLOW_DELAY_S", 0.3)
    client = create_app(latency_scale=0.0).test_client()
    client.put("/_control/providers/perplexity", json={"mode": "slow"})
    elapsed, response = _timed(lambda: client.post("/chat/completions", json=CHAT, headers=BEARER))
    assert response.status_code == 200
    assert elapsed >= 0.3


def test_many_calls_in_flight_at_once():
    """250 calls of ~0.4 s each finish together: the server never serialises them."""

    async def burst(url: str) -> list[int]:
        limits = httpx.Limits(max_connections=CONCURRENT_CALLS)
        async with httpx.AsyncClient(limits=limits, timeout=20) as client:
            calls = [
                client.post(
                    f"{url}/chat/completions",
                    headers=BEARER,
                    json={**CHAT, "messages": [{"role": "user", "content": f"q{n}"}]},
                )
                for n in range(CONCURRENT_CALLS)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    with running_emulator(latency_scale=0.5) as url:
        elapsed, statuses = _timed(lambda: asyncio.run(burst(url)))
        counted = httpx.get(f"{url}/_control/requests?provider=perplexity").json()
    assert statuses == [200] * CONCURRENT_CALLS
    assert counted["perplexity"]["requests"] == CONCURRENT_CALLS
    assert elapsed < 8.0, f"{CONCURRENT_CALLS} calls took {elapsed:.1f}s"


def test_a_stream_keeps_to_its_stated_service_time_when_every_sleep_wakes_late(monkeypatch):
    """Under load each sleep wakes late; summed over a stream's chunks, that lateness was
    counted as the caller's overhead (the service-time header states the schedule)."""
    real_sleep = time.sleep
    late_s = 0.01
    monkeypatch.setattr(streams.time, "sleep", lambda seconds: real_sleep(seconds + late_s))
    client = create_app(latency_scale=1.0).test_client()
    started = time.perf_counter()
    response = client.post("/chat/completions", json={**CHAT, "stream": True}, headers=BEARER)
    body = response.get_data()
    elapsed_s = time.perf_counter() - started
    events = body.count(b"data: ")
    stated_s = float(response.headers["x-emulator-service-ms"]) / 1000
    assert events > 10
    assert elapsed_s - stated_s < 3 * late_s + 0.05, (elapsed_s, stated_s, events)

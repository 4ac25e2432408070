"""Live streaming through the whole stack: the strategist API's event stream (resume with
Last-Event-ID, a failover mid-answer) and the official `openai` SDK with `stream=True`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import OpenAI

from harness.processes import free_port, gunicorn_app, running
from tests.e2e.stack import API, APP_READY_TIMEOUT_S, APP_SYNC_TIMEOUT_S, Stack, StackFactory

pytestmark = pytest.mark.e2e

COMPLEX = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
SSE = {"Accept": "text/event-stream"}
STREAM_TIMEOUT_S = APP_SYNC_TIMEOUT_S + 30


@pytest.fixture(scope="module")
def stack(stack_factory: StackFactory) -> Iterator[Stack]:
    with stack_factory() as running_stack:
        running_stack.emulator.reset()
        yield running_stack


def iter_events(response: httpx.Response) -> Iterator[tuple[int, str, Any, float]]:
    """(id, event, data, arrival time) of each event, as it arrives."""
    block: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if block:
                yield (int(block["id"]), block["event"], json.loads(block["data"]),
                       time.perf_counter())  # fmt: skip
            block = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            block[name] = value


def read_events(response: httpx.Response) -> list[tuple[int, str, Any, float]]:
    """Every event of the stream, read as they arrive."""
    return list(iter_events(response))


def shown_text(events: list[tuple[int, str, Any, float]]) -> str:
    """What a client shows: the deltas after the last restart."""
    text = ""
    for _id, name, data, _at in events:
        text = "" if name == "restart" else text + (data["text"] if name == "delta" else "")
    return text


def _stream(client: httpx.Client, method: str, url: str, **kw: Any) -> list[Any]:
    with client.stream(method, url, timeout=STREAM_TIMEOUT_S, **kw) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return read_events(response)


def test_the_event_stream_shows_the_answer_live_and_resumes_with_last_event_id(
    stack: Stack,
) -> None:
    client = stack.app.client
    events = _stream(client, "POST", f"{API}/analyze", json={"query": COMPLEX}, headers=SSE)
    names = [name for _id, name, _d, _at in events]
    assert names[0] == "routing" and names[-1] == "done"
    assert "attempt" in names and names.count("delta") > 1
    assert [i for i, *_ in events] == list(range(1, len(events) + 1))
    done = events[-1][2]
    analysis_id = done["analysis_id"]
    assert done == client.get(f"{API}/analyses/{analysis_id}").json()
    assert shown_text(events) == done["result"]
    url = f"{API}/analyses/{analysis_id}/events"
    for last in (0, 3, len(events) - 2):  # any app process rebuilds the same stream
        rest = _stream(client, "GET", url, headers={"Last-Event-ID": str(last)})
        assert [(i, n, d) for i, n, d, _ in rest] == [(i, n, d) for i, n, d, _ in events[last:]]


def test_a_cut_mid_answer_restarts_and_done_is_never_the_cut_text(stack: Stack) -> None:
    emulator = stack.emulator
    emulator.reset()
    httpx.put(f"{emulator.base_url}/_control/providers/gemini",
              json={"mode": "cut", "after_chunks": 2}, timeout=5).raise_for_status()
    try:
        events = _stream(stack.app.client, "POST", f"{API}/analyze", json={"query": COMPLEX},
                         headers=SSE)  # fmt: skip
    finally:
        emulator.reset()
    names = [name for _id, name, _d, _at in events]
    failed = [d for _i, n, d, _a in events if n == "attempt" and d["status"] == "failed"]
    assert failed and failed[0]["error_kind"] == "stream_truncated"
    assert names[-1] == "done"
    done = events[-1][2]
    assert done["routing"]["model"] != "gemini-2.5-pro"
    failed_at = next(i for i, (_i, n, d, _a) in enumerate(events)
                     if n == "attempt" and d["status"] == "failed")
    if "delta" in names[:failed_at]:  # the cut attempt's text was shown: it is discarded
        assert "restart" in names[failed_at:]
    assert shown_text(events) == done["result"]


@pytest.mark.parametrize("mode", ["live", None])  # None: auto, the default
def test_the_openai_sdk_receives_the_first_chunk_before_the_answer_is_finished(
    stack: Stack, mode: str | None
) -> None:
    """In auto mode this needs the dispatcher that sets `release` (issue 16): Gemini 2.5
    Pro's first fallback accepts a continuation, so its answer streams live."""
    app = stack.app
    client = OpenAI(base_url=f"{app.base_url}/v1", api_key=app.key.key, timeout=STREAM_TIMEOUT_S,
                    max_retries=0)  # fmt: skip
    stream = client.chat.completions.create(
        model="gemini-2.5-pro",
        messages=[{"role": "user", "content": COMPLEX}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"x_stream_mode": mode} if mode else None,
    )
    arrivals: list[tuple[float, Any]] = [(time.perf_counter(), chunk) for chunk in stream]
    content = [(at, c) for at, c in arrivals if c.choices and c.choices[0].delta.content]
    routed = [(at, c) for at, c in arrivals if "x_routing" in (c.model_extra or {})]
    assert len(content) > 1 and len(routed) == 1
    assert content[0][0] < content[-1][0] < routed[0][0]
    text = "".join(c.choices[0].delta.content for _at, c in content)
    analysis_id = routed[0][1].model_extra["x_routing"]["analysis_id"]
    assert text == app.client.get(f"{API}/analyses/{analysis_id}").json()["result"]
    assert arrivals[-1][1].usage is not None and arrivals[-1][1].usage.total_tokens > 0


def test_an_app_process_started_after_the_answer_resumes_the_stream_from_the_topic(
    stack: Stack,
) -> None:
    """The app holding the caller's connection died: the caller reconnects with
    Last-Event-ID to an app process that never saw the analysis, which reads it back from
    the answer-deltas topic and numbers it the same."""
    client = stack.app.client
    events = _stream(client, "POST", f"{API}/analyze", json={"query": COMPLEX}, headers=SSE)
    analysis_id = events[-1][2]["analysis_id"]
    port = free_port()
    fresh = gunicorn_app("app-fresh", dict(stack.app.process.env), port, workers=1)
    with running(fresh):
        base_url = f"http://127.0.0.1:{port}"
        fresh.wait_until(lambda: httpx.get(f"{base_url}/healthz", timeout=5).is_success,
                         APP_READY_TIMEOUT_S, "/healthz")  # fmt: skip
        with stack.app.client_with(stack.app.key) as other:
            other.base_url = httpx.URL(base_url)
            url = f"{API}/analyses/{analysis_id}/events"
            rest = _stream(other, "GET", url, headers={"Last-Event-ID": "2"})
    assert [(i, n, d) for i, n, d, _ in rest] == [(i, n, d) for i, n, d, _ in events[2:]]


SLOW_LATENCY_SCALE = 4.0
"""The emulator at four times real latency: a Gemini 2.5 Pro answer streams for seconds,
so the app can be killed while its text is being read."""
DELTAS_BEFORE_KILL = 2


def test_a_client_reads_on_from_another_app_after_its_app_is_killed_mid_stream(
    stack: Stack,
) -> None:
    """Issue 16, section 4: the app process holding the caller's connection dies (SIGKILL,
    master and workers); the caller reconnects to another app process with Last-Event-ID
    and reads on: every id once, in order, and the text shown is `done`'s text."""
    port = free_port()
    doomed = gunicorn_app("app-doomed", dict(stack.app.process.env), port, workers=1)
    emulator = stack.emulator
    scale = emulator.latency()
    first: list[tuple[int, str, Any, float]] = []
    with running(doomed):
        base_url = f"http://127.0.0.1:{port}"
        doomed.wait_until(lambda: httpx.get(f"{base_url}/healthz", timeout=5).is_success,
                          APP_READY_TIMEOUT_S, "/healthz")  # fmt: skip
        emulator.set_latency(SLOW_LATENCY_SCALE)
        try:
            with stack.app.client_with(stack.app.key) as client:
                client.base_url = httpx.URL(base_url)
                with client.stream("POST", f"{API}/analyze", json={"query": COMPLEX},
                                   headers=SSE, timeout=STREAM_TIMEOUT_S) as response:  # fmt: skip
                    assert response.status_code == 200, response.read()
                    status_url = response.headers["Location"]
                    for event in iter_events(response):
                        first.append(event)
                        if [n for _i, n, _d, _a in first].count("delta") >= DELTAS_BEFORE_KILL:
                            doomed.kill_tree()
                            break
            assert not doomed.alive()
            names = [n for _i, n, _d, _a in first]
            assert names.count("delta") == DELTAS_BEFORE_KILL and "done" not in names
            url = f"{status_url}/events"
            rest = _stream(stack.app.client, "GET", url,
                           headers={"Last-Event-ID": str(first[-1][0])})  # fmt: skip
        finally:
            emulator.set_latency(scale)
    events = first + rest
    assert [i for i, *_ in events] == list(range(1, len(events) + 1))  # none lost, none twice
    assert events[-1][1] == "done"
    done = events[-1][2]
    assert done == stack.app.client.get(status_url).json()
    assert shown_text(events) == done["result"]
    replay = _stream(stack.app.client, "GET", url)  # numbered alike by both processes
    assert [(i, n, d) for i, n, d, _ in replay] == [(i, n, d) for i, n, d, _ in events]

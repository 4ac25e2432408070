"""Streaming callers of a chaos run: read the strategist event stream while processes die.

A caller posts `POST /api/v1/strategist/analyses` with `Accept: text/event-stream` and
`options.stream_mode` "live", and reads the stream (harness/event_stream.py). When the
connection breaks (the app worker holding it was killed) or ends without `done` or
`error`, it reconnects to `GET /analyses/<id>/events` with `Last-Event-ID`, as a browser's
EventSource does, until `STREAM_LIMIT_S` after it was sent; a stream without a final event
by then was left hanging.

`tally` sorts the finished streams: completed seamlessly (`done`, no `restart`, the text
shown equal to `done`'s answer), completed after a `restart` (the client discarded what it
showed, then the same equality), clean errors (`error`), repeated or missing text (`done`,
but the shown text is not its answer), truncated successes (`done` whose answer is a strict
prefix of the complete answer the same model gives the same question elsewhere in the run:
the emulator's answers depend only on model and prompt) and hanging.

Other callers read `/v1/chat/completions` with `stream: true` and `x_stream_mode` "live"
(`chat_once`). That stream cannot resume: a broken connection is an error its client
raises (`connection_lost`), never retried here. After `[DONE]` the caller fetches the
analysis's JSON (`x_routing.analysis_id`) and compares: the text equal to its answer is
complete; a strict prefix of it is a truncated success; anything else repeated or
missing text (`chat_tally`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from harness.event_stream import SSE_HEADERS, StreamRead, read_stream

API = "/api/v1/strategist"
STREAM_LIMIT_S = 150.0
"""Generous: the app gives up a stream after 120 s without an answer (with `error`)."""
RECONNECT_PAUSE_S = 0.5
STREAM_TIMEOUT = httpx.Timeout(10.0, read=30.0)
"""A quiet stream sends a keep-alive every 15 s: a read waits longer than that."""


@dataclass
class StreamCaller:
    """One streaming caller: what it read, over how many connections."""

    query: str
    sent_at: float
    analysis_id: str | None = None
    read: StreamRead = field(default_factory=StreamRead)
    connections: int = 0
    ended_at: float | None = None


async def stream_once(
    client: httpx.AsyncClient, caller: StreamCaller, body: dict[str, Any]
) -> None:
    """Post, read, reconnect with Last-Event-ID until a final event or the limit."""
    deadline = caller.sent_at + STREAM_LIMIT_S
    while caller.read.final is None and time.monotonic() < deadline:
        caller.connections += 1
        try:
            async with asyncio.timeout(max(deadline - time.monotonic(), 0.1)):
                await _connect(client, caller, body)
        except TimeoutError:
            break
        except httpx.HTTPError as err:
            caller.read.failure = type(err).__name__
        if caller.read.final is None:
            await asyncio.sleep(RECONNECT_PAUSE_S)
    if caller.read.final is None:
        caller.read.failure = "hanging"
    else:
        caller.ended_at = time.monotonic()


async def _connect(client: httpx.AsyncClient, caller: StreamCaller, body: dict[str, Any]) -> None:
    if caller.analysis_id is None:
        request = client.stream("POST", f"{API}/analyses", json=body, headers=SSE_HEADERS,
                                timeout=STREAM_TIMEOUT)  # fmt: skip
    else:
        last = caller.read.last_event_id
        resume = {"Last-Event-ID": str(last)} if last is not None else {}
        request = client.stream("GET", f"{API}/analyses/{caller.analysis_id}/events",
                                headers={**SSE_HEADERS, **resume},
                                timeout=STREAM_TIMEOUT)  # fmt: skip
    async with request as response:
        if response.status_code != 200:
            await response.aread()
            caller.read.failure = f"HTTP {response.status_code}"
            return
        location = response.headers.get("Location", "")
        if caller.analysis_id is None and location:
            caller.analysis_id = location.rstrip("/").rsplit("/", 1)[-1]
        try:
            await read_stream(response, caller.read)
        finally:
            caller.analysis_id = caller.analysis_id or caller.read.analysis_id


@dataclass
class StreamTally:
    """What the streaming callers saw; the last three must be 0."""

    streams: int = 0
    completed_seamlessly: int = 0
    completed_after_restart: int = 0
    clean_errors: int = 0
    reconnected: int = 0
    """Streams read over more than one connection (resumed with Last-Event-ID)."""
    truncated_successes: int = 0
    repeated_or_missing_text: int = 0
    hanging: int = 0

    @property
    def clean(self) -> bool:
        return not (self.truncated_successes or self.repeated_or_missing_text or self.hanging)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def complete_answers(answers: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """(query, model) -> the answer most often given: (query, model, text) from every
    answer of the run (streamed or not)."""
    counts = Counter(answers)
    best: dict[tuple[str, str], tuple[int, str]] = {}
    for (query, model, text), n in counts.items():
        if n > best.get((query, model), (0, ""))[0]:
            best[(query, model)] = (n, text)
    return {key: text for key, (_n, text) in best.items()}


def answer_of(body: dict[str, Any] | None) -> tuple[str, str] | None:
    """(model, text) of a completed analysis's JSON; None otherwise."""
    if not body or body.get("status") != "completed" or not body.get("result"):
        return None
    return str((body.get("routing") or {}).get("model") or ""), str(body["result"])


def tally(callers: Iterable[StreamCaller], complete: dict[tuple[str, str], str]) -> StreamTally:
    counts = StreamTally()
    for caller in callers:
        counts.streams += 1
        read = caller.read
        counts.reconnected += caller.connections > 1
        if read.final is None:
            counts.hanging += 1
        elif read.final == "error":
            counts.clean_errors += 1
        elif read.shown != (read.answer or {}).get("result"):
            counts.repeated_or_missing_text += 1
        elif _truncated(caller, complete):
            counts.truncated_successes += 1
        elif read.restarts:
            counts.completed_after_restart += 1
        else:
            counts.completed_seamlessly += 1
    return counts


def _truncated(caller: StreamCaller, complete: dict[tuple[str, str], str]) -> bool:
    answered = answer_of(caller.read.answer)
    if answered is None:
        return False
    model, text = answered
    reference = complete.get((caller.query, model), text)
    return reference != text and reference.startswith(text)


@dataclass
class ChatCaller:
    """One `/v1` streaming caller: the text it received and how its stream ended."""

    query: str
    sent_at: float
    text: str = ""
    ended: str = ""
    """"done" ([DONE]), "error" (in-band or HTTP), "connection_lost", or "hanging"."""
    answer: str | None = None
    """The analysis's answer as `GET /analyses/<id>` gives it, after [DONE]."""


async def chat_once(client: httpx.AsyncClient, caller: ChatCaller, question: str) -> None:
    """One live `/v1` stream read to its end, then its analysis's JSON answer."""
    body = {"model": "auto", "messages": [{"role": "user", "content": question}],
            "stream": True, "x_stream_mode": "live"}  # fmt: skip
    analysis_id = ""
    try:
        async with asyncio.timeout(STREAM_LIMIT_S):
            async with client.stream("POST", "/v1/chat/completions", json=body,
                                     timeout=STREAM_TIMEOUT) as response:  # fmt: skip
                if response.status_code != 200:
                    await response.aread()
                    caller.ended = "error"
                    return
                async for line in response.aiter_lines():
                    if line == "data: [DONE]":
                        caller.ended = "done"
                        break
                    if not line.startswith("data: "):
                        continue
                    chunk = json.loads(line[len("data: ") :])
                    if "error" in chunk:
                        caller.ended = "error"
                        return
                    analysis_id = (chunk.get("x_routing") or {}).get("analysis_id") or analysis_id
                    for choice in chunk.get("choices", []):
                        caller.text += (choice.get("delta") or {}).get("content") or ""
    except TimeoutError:
        caller.ended = "hanging"
    except httpx.HTTPError:
        caller.ended = caller.ended or "connection_lost"
    if caller.ended == "done" and analysis_id:
        answer = await client.get(f"{API}/analyses/{analysis_id}")
        caller.answer = answer.json().get("result") if answer.status_code == 200 else None


@dataclass
class ChatTally:
    """What the `/v1` streaming callers saw; the last three must be 0."""

    streams: int = 0
    completed: int = 0
    clean_errors: int = 0
    connection_lost: int = 0
    """The stream broke (its app worker killed): the client raised, nothing shown as done."""
    truncated_successes: int = 0
    repeated_or_missing_text: int = 0
    hanging: int = 0

    @property
    def clean(self) -> bool:
        return not (self.truncated_successes or self.repeated_or_missing_text or self.hanging)


def chat_tally(callers: Iterable[ChatCaller]) -> ChatTally:
    counts = ChatTally()
    for caller in callers:
        counts.streams += 1
        if caller.ended == "done":
            if caller.answer is not None and caller.text == caller.answer:
                counts.completed += 1
            elif caller.answer and caller.answer.startswith(caller.text):
                counts.truncated_successes += 1
            else:
                counts.repeated_or_missing_text += 1
        elif caller.ended == "error":
            counts.clean_errors += 1
        elif caller.ended == "connection_lost":
            counts.connection_lost += 1
        else:
            counts.hanging += 1
    return counts

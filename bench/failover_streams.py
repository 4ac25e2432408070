"""What a streaming caller sees under a provider fault, per stream mode (`make failover`).

For one fault and one mode (`auto`, `live`, `buffered`), two callers: one reads the
strategist event stream (`POST /api/v1/strategist/analyze`, `Accept: text/event-stream`,
`options.stream_mode`), one the `/v1/chat/completions` stream (`x_stream_mode`). Each
outcome is one word (and the seconds it took):

- `seamless`: the answer ended cleanly (`done`; `[DONE]`) with no `restart`, and the text
  the caller was shown is the answer;
- `restart`: the event stream said `restart` and then showed the whole answer;
- `error:<code>`: a clean error (`error` event; OpenAI's in-band `{"error": ...}`; an HTTP
  error status before any text);
- `TRUNCATED`: a clean end whose text is a strict prefix of a complete answer that model
  gives the question; `TEXT!=ANSWER`: the text shown is not `done`'s answer; `HANG`: no
  end within the limit; `CUT`: the connection ended without a final event. These
  must never happen.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from harness.event_stream import SSE_HEADERS, StreamRead, parse_block

MODES = ("auto", "live", "buffered")
ANALYZE = "/api/v1/strategist/analyze"
CHAT = "/v1/chat/completions"
BAD = ("TRUNCATED", "TEXT!=ANSWER", "HANG", "CUT")

Complete = Callable[[str, str], str | None]
"""(question, model) -> the complete answer that model gives it when healthy, if known."""


def _judge(text: str, model: str, question: str, complete: Complete) -> str | None:
    reference = complete(question, model)
    if reference is not None and reference != text and reference.startswith(text):
        return "TRUNCATED"
    return None


def events_outcome(
    http: httpx.Client, question: str, mode: str, complete: Complete, limit_s: float
) -> str:
    """The strategist event stream's outcome for `question` in `mode`."""
    started = time.perf_counter()
    read = StreamRead()
    body = {"query": question, "campaign_id": "failover", "options": {"stream_mode": mode}}
    try:
        with http.stream("POST", ANALYZE, json=body, headers=SSE_HEADERS, timeout=limit_s) as r:
            read.status = r.status_code
            if r.status_code != 200:
                r.read()
                return _timed(f"error:HTTP {r.status_code}", started)
            block: list[str] = []
            for line in r.iter_lines():
                if line:
                    block.append(line)
                    continue
                if block and (event := parse_block(block, time.time())) is not None:
                    read.events.append(event)
                block = []
    except httpx.TimeoutException:
        return _timed("HANG", started)
    except httpx.HTTPError:
        return _timed("CUT", started)
    return _timed(_event_verdict(read, question, complete), started)


def _event_verdict(read: StreamRead, question: str, complete: Complete) -> str:
    if read.final is None:
        return "CUT"
    if read.final == "error":
        data = read.events[-1].data
        data = data if isinstance(data, dict) else {}
        error = data.get("error")  # {"code", "message"}, or a failed analysis's message
        code = error.get("code") if isinstance(error, dict) else None
        return f"error:{code or data.get('status', 'failed')}"
    answer = read.answer or {}
    if read.shown != answer.get("result"):
        return "TEXT!=ANSWER"
    model = str((answer.get("routing") or {}).get("model") or "")
    return _judge(read.shown, model, question, complete) or (
        "restart" if read.restarts else "seamless"
    )


def chat_outcome(
    http: httpx.Client, question: str, mode: str, complete: Complete, limit_s: float
) -> str:
    """The `/v1/chat/completions` stream's outcome for `question` in `mode`."""
    started = time.perf_counter()
    body: dict[str, Any] = {
        "model": "auto",
        "messages": [{"role": "user", "content": question}],
        "stream": True,
        "x_stream_mode": mode,
    }
    text: list[str] = []
    model, ended = "", False
    try:
        with http.stream("POST", CHAT, json=body, timeout=limit_s) as r:
            if r.status_code != 200:
                r.read()
                return _timed(f"error:HTTP {r.status_code}", started)
            for line in r.iter_lines():
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    ended = True
                    break
                chunk = json.loads(line[len("data: ") :])
                if "error" in chunk:
                    return _timed(f"error:{chunk['error'].get('code') or 'error'}", started)
                model = chunk.get("model") or model
                for choice in chunk.get("choices", []):
                    text.append((choice.get("delta") or {}).get("content") or "")
    except httpx.TimeoutException:
        return _timed("HANG", started)
    except httpx.HTTPError:
        return _timed("CUT", started)
    if not ended:
        return _timed("CUT", started)
    return _timed(_judge("".join(text), model, question, complete) or "seamless", started)


def _timed(outcome: str, started: float) -> str:
    return f"{outcome} {time.perf_counter() - started:.1f}s"


def is_bad(outcome: str) -> bool:
    return outcome.split(" ", 1)[0] in BAD

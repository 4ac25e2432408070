"""Send an answer, streamed as server-sent events or whole, under a mid-answer fault mode.

The emulated APIs compose the answer and its events; this module paces them (first
token, then generation, both scaled by the latency scale) and carries out the modes
that act while an answer is on the wire: `slow_first_token`, `stall`, `cut`,
`malformed` and `no_final_marker` (see emulator/faults.py).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context

from emulator.faults import HOLD_MAX_S, Admission, FaultBoard
from emulator.modes import drop_connection
from emulator.timing import plan

CHUNK_WORDS = 8
"""Words per streamed chunk: a few tokens, as the real APIs send them."""
MALFORMED_EVENT = b'data: {"candidates": [{"content": oops, this is not JSON\n\n'
"""What `malformed` sends mid-stream: an event whose data does not parse."""
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def split_text(text: str, words: int = CHUNK_WORDS) -> list[str]:
    """The text in pieces of about `words` words that join back to exactly the text."""
    tokens = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def sse_event(payload: Any) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


def _pause(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _pause_until(moment: float) -> None:
    """Sleep until `moment` (perf_counter): a late wake-up is not carried to the next one."""
    _pause(moment - time.perf_counter())


def sse_response(
    events: list[bytes],
    *,
    final_marker: bytes | None,
    admission: Admission,
    board: FaultBoard,
    provider: str,
    first_token_s: float,
    per_chunk_s: float,
) -> Response:
    """Stream `events` (already framed), then `final_marker`, under the admitted mode.

    Headers go out at once; the first event after `first_token_s` (or the mode's
    `delay_s`), the next ones `per_chunk_s` apart. That schedule is the stream's part of
    its service-time header (emulator/timing.py), so each event is sent at its time on
    the schedule, not a pause after the last one: with hundreds of streams in flight
    every sleep wakes late, and summed over a stream's chunks that lateness would be
    counted as the caller's overhead.
    """
    mode, options = admission.mode, admission.options
    plan(first_token_s + per_chunk_s * max(len(events) - 1, 0))
    # A fault "after N chunks" always falls before the last event, so it is never complete.
    fault_at = min(options.after_chunks, max(len(events) - 1, 0))

    def generate() -> Iterator[bytes]:
        yield b""  # the status line and headers, now
        first_at = time.perf_counter() + (
            options.delay_s if mode == "slow_first_token" else first_token_s
        )
        _pause_until(first_at)
        for index, event in enumerate(events):
            if index == fault_at:
                if mode == "stall":
                    board.hold(provider, HOLD_MAX_S)
                    return
                if mode == "cut":
                    drop_connection()
                    return
                if mode == "malformed":
                    yield MALFORMED_EVENT
            if index:
                _pause_until(first_at + per_chunk_s * index)
            yield event
        if mode == "no_final_marker":
            board.hold(provider, HOLD_MAX_S)
            return
        if final_marker:
            yield final_marker

    return Response(_with_request(generate()), mimetype="text/event-stream", headers=SSE_HEADERS)


def whole_response(
    payload: dict[str, Any], *, admission: Admission, board: FaultBoard, provider: str
) -> Response:
    """A non-streamed JSON answer under the admitted mode.

    `slow_first_token` sends it after `delay_s`; `stall` sends half the body and then
    nothing; `cut` sends half the body and drops the connection. Other mid-stream modes
    do not apply to a whole answer.
    """
    mode, options = admission.mode, admission.options
    body = json.dumps(payload).encode()
    if mode == "slow_first_token":
        _pause(options.delay_s)
    if mode not in ("stall", "cut"):
        return Response(body, mimetype="application/json")

    def generate() -> Iterator[bytes]:
        yield body[: len(body) // 2]
        if mode == "stall":
            board.hold(provider, HOLD_MAX_S)
        else:
            drop_connection()

    response = Response(_with_request(generate()), mimetype="application/json")
    response.headers["Content-Length"] = str(len(body))
    return response


def _with_request(events: Iterator[bytes]) -> Iterator[bytes]:
    """Keep the request context (for the socket) while the body is being sent."""
    return stream_with_context(events)

"""Serve a request under its provider's current fault mode.

Two stages. `apply_mode` runs before the answer is composed: it returns the fault
response that replaces the answer (an error status, a dropped connection, a hang) or
None to go on. The modes that act while the answer is sent (see `STREAM_MODES`) are
carried out by `emulator.streams` from the same `Admission`.

Each emulated API passes a renderer that turns a fault into that API's own error body,
so Gemini, Perplexity and the plain OpenAI-compatible API fail in their own shapes.
"""

from __future__ import annotations

import math
import socket
import struct
import time
from collections.abc import Callable
from typing import Literal

from flask import Response, request

from emulator.faults import SLOW_DELAY_S, Admission, Endpoint, FaultBoard

Fault = Literal[
    "bad_request", "rate_limit", "error", "unavailable", "context_too_long", "content_filter"
]
ErrorRenderer = Callable[[Fault, Admission], Response]
"""Builds the provider's own response for a fault (most are HTTP errors)."""

_FAULT_FOR_MODE: dict[str, Fault] = {
    "down": "unavailable",
    "unavailable": "unavailable",
    "error": "error",
    "error_once": "error",
    "rate_limit": "rate_limit",
    "bad_request": "bad_request",
    "context_too_long": "context_too_long",
    "content_filter": "content_filter",
}


REQUEST_FAULTS = frozenset({"context_too_long", "content_filter"})
"""Faults about one request's content: a health probe is answered normally."""


def admit(board: FaultBoard, provider: str, endpoint: Endpoint) -> Admission:
    return board.admit(provider, endpoint)


def apply_mode(
    board: FaultBoard,
    provider: str,
    endpoint: Endpoint,
    render: ErrorRenderer,
    admission: Admission | None = None,
) -> Response | None:
    """The fault response to send now, or None to go on and answer (maybe faultily).

    `slow` delays and then answers; `hang` holds the thread until the mode changes
    (or `HANG_MAX_S` passes) and then fails with 503, like a dropped upstream; `reset`
    drops the connection before any byte is sent.
    """
    if admission is None:
        admission = board.admit(provider, endpoint)
    mode = admission.mode
    if mode == "slow":
        time.sleep(SLOW_DELAY_S)
        return None
    if mode == "hang":
        board.hang(provider)
        return render("unavailable", admission)
    if mode == "reset":
        drop_connection(abort=True)
        return render("unavailable", admission)
    fault = _FAULT_FOR_MODE.get(mode)
    if fault is None or (endpoint == "probe" and fault in REQUEST_FAULTS):
        return None
    return render(fault, admission)


def retry_after_headers(response: Response, seconds: float) -> Response:
    """`Retry-After` in whole seconds (HTTP's form) and `retry-after-ms` (the openai SDK's)."""
    response.headers["Retry-After"] = str(math.ceil(seconds))
    response.headers["retry-after-ms"] = str(round(seconds * 1000))
    return response


def drop_connection(*, abort: bool = False) -> bool:
    """Shut the request's socket down now; with `abort`, closing it later sends a reset.

    Returns False when there is no socket to drop (Flask's test client).
    """
    sock = request.environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        return False
    try:
        if abort:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    return True


def simulate_latency(seconds: float, scale: float) -> None:
    if seconds > 0 and scale > 0:
        time.sleep(seconds * scale)

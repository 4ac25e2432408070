"""Serve a request under its provider's current fault mode.

Each emulated API passes a renderer that turns an HTTP status into that API's
own error body, so Gemini and Perplexity fail in their own shapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Response

from emulator.faults import RATE_LIMIT_RETRY_AFTER_S, SLOW_DELAY_S, Endpoint, FaultBoard

ErrorRenderer = Callable[[int], Response]
"""Builds the provider's error response for an HTTP status (400, 429, 500, 503)."""

_STATUS_FOR_MODE = {"down": 503, "error": 500, "rate_limit": 429, "bad_request": 400}


def apply_mode(
    board: FaultBoard, provider: str, endpoint: Endpoint, render: ErrorRenderer
) -> Response | None:
    """The fault response to send now, or None to go on and answer normally.

    `slow` delays and then answers; `hang` holds the thread until the mode changes
    (or `HANG_MAX_S` passes) and then fails with 503, like a dropped upstream.
    """
    mode = board.admit(provider, endpoint)
    if mode == "ok":
        return None
    if mode == "slow":
        time.sleep(SLOW_DELAY_S)
        return None
    if mode == "hang":
        board.hang(provider)
        return render(503)
    response = render(_STATUS_FOR_MODE[mode])
    if mode == "rate_limit":
        response.headers["Retry-After"] = str(RATE_LIMIT_RETRY_AFTER_S)
    return response


def simulate_latency(seconds: float, scale: float) -> None:
    if seconds > 0 and scale > 0:
        time.sleep(seconds * scale)

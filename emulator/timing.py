"""The provider's own service time, stamped on every emulated API response.

A benchmark subtracts the provider's time from the caller's to get the pipeline's
overhead; measured by the busy caller, that time also holds the caller's own queueing.
So the emulator says it, where it serves the call:

- `x-emulator-service-ms`: milliseconds from the request's arrival (before routing) to
  the whole response. For a non-streamed answer that is measured when the body is ready.
  A stream's headers leave before its body, so there it is the time spent before the
  headers plus the pauses the emulator has scheduled for the stream (first token, then
  between chunks): the service time as planned. A fault that acts mid-stream (`stall`,
  `cut`, `slow_first_token`) does not count in it.
- `openai-processing-ms` (whole milliseconds, as OpenAI itself sends it) on the
  OpenAI-style APIs (Perplexity, `/openai/v1`), with the same value.

Control-API responses carry neither.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

SERVICE_MS_HEADER = "x-emulator-service-ms"
OPENAI_PROCESSING_MS_HEADER = "openai-processing-ms"
PROVIDER_BLUEPRINTS = frozenset({"gemini", "perplexity", "openai"})
OPENAI_STYLE_BLUEPRINTS = frozenset({"perplexity", "openai"})
_STARTED = "emulator_started"
_PLANNED_S = "emulator_planned_s"


def init_app(app: Flask) -> None:
    """Stamp the provider blueprints' responses with their service time."""
    app.before_request(_start)
    app.after_request(_stamp)


def plan(seconds: float) -> None:
    """Count `seconds` the response will still spend after its headers (a stream's pauses)."""
    setattr(g, _PLANNED_S, getattr(g, _PLANNED_S, 0.0) + max(seconds, 0.0))


def _start() -> None:
    setattr(g, _STARTED, time.perf_counter())


def _stamp(response: Response) -> Response:
    started = getattr(g, _STARTED, None)
    if started is None or request.blueprint not in PROVIDER_BLUEPRINTS:
        return response
    service_s = time.perf_counter() - started + getattr(g, _PLANNED_S, 0.0)
    response.headers[SERVICE_MS_HEADER] = f"{service_s * 1000.0:.3f}"
    if request.blueprint in OPENAI_STYLE_BLUEPRINTS:
        response.headers[OPENAI_PROCESSING_MS_HEADER] = str(round(service_s * 1000.0))
    return response

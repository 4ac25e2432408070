"""The app's Prometheus metrics: request hooks and `GET /metrics`.

Under gunicorn each worker process writes its counts to files in
`PROMETHEUS_MULTIPROC_DIR` (strategist/gunicorn_conf.py sets it up before any worker
starts), and `/metrics` adds up every process's files: one scrape of any worker reports
the whole app. Without that directory (`flask run`, tests in one process) it reports the
process's own registry. `/metrics` is open like `/healthz`: it holds route names and
counts, never keys, bodies or campaign names.

The hooks cost a histogram observation, a counter increment and a gauge move per
request. The `path` label is what the answer itself says (`routing.path`: `intelligent`
when the pipeline routed it, `direct` for the direct Gemini path), read from the body
of the endpoints that return an answer; `none` for every other response (and for a
streamed one: its duration ends when the stream starts). Metric names are listed in
docs/metrics.md.
"""

from __future__ import annotations

import os
import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from services.common.metrics import LATENCY_BUCKETS_S

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus-client's own switch for multiprocess mode (it reads it at import)."""
UNMATCHED = "unmatched"
"""The `route` label of a request no route matched (keeps raw paths out of the labels)."""
NO_PATH = "none"
ANSWER_ENDPOINTS = {
    "strategist_api.analyze": "routing",
    "strategist_api.get_analysis": "routing",
    "openai_compat.chat_completions": "x_routing",
}
"""Endpoints whose JSON body may be an answer, and the object in it that holds `path`."""
METRICS_ENDPOINT = "metrics.metrics"

REQUEST_SECONDS = Histogram(
    "strategist_http_request_duration_seconds",
    "Time from a request's arrival to its response, by route, method and path "
    "(intelligent, direct, or none when the response is not an answer).",
    ["route", "method", "path"],
    buckets=LATENCY_BUCKETS_S,
)
REQUESTS = Counter(
    "strategist_http_requests",
    "Requests answered, by route, method and status code.",
    ["route", "method", "status"],
)
IN_FLIGHT = Gauge(
    "strategist_http_requests_in_flight",
    "Requests being served now, by route (POST /analyze: callers waiting for an answer).",
    ["route"],
    multiprocess_mode="livesum",
)

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    """Every app process's metrics in the Prometheus text format."""
    if os.environ.get(MULTIPROC_DIR_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def answer_path(endpoint: str | None, response: Response) -> str:
    """The path an answer in `response` took (`routing.path`, or `x_routing.path` on the
    OpenAI-compatible endpoint), or `none` when it holds no answer or is streamed (a
    stream is never read here)."""
    holder = ANSWER_ENDPOINTS.get(endpoint or "")
    if holder is None or response.is_streamed or not response.is_json:
        return NO_PATH
    body = response.get_json(silent=True)
    routing = body.get(holder) if isinstance(body, dict) else None
    path = routing.get("path") if isinstance(routing, dict) else None
    return path if isinstance(path, str) else NO_PATH


def _route() -> str:
    return request.url_rule.rule if request.url_rule is not None else UNMATCHED


def _started() -> None:
    if request.endpoint == METRICS_ENDPOINT:
        return
    g.metrics_started = time.perf_counter()
    g.metrics_route = _route()
    IN_FLIGHT.labels(g.metrics_route).inc()


def _finished(response: Response) -> Response:
    started: float | None = g.pop("metrics_started", None)
    if started is None:
        return response
    route, method = g.metrics_route, request.method
    REQUEST_SECONDS.labels(route, method, answer_path(request.endpoint, response)).observe(
        time.perf_counter() - started
    )
    REQUESTS.labels(route, method, str(response.status_code)).inc()
    return response


def _torn_down(_error: BaseException | None) -> None:
    route: str | None = g.pop("metrics_route", None)
    if route is not None:
        IN_FLIGHT.labels(route).dec()


def init_app(app: Flask) -> None:
    """Register `/metrics` and the request hooks. Call before any other `before_request`
    hook (the key check answers 401 from one), so every request is counted."""
    app.before_request(_started)
    app.after_request(_finished)
    app.teardown_request(_torn_down)
    app.register_blueprint(bp)

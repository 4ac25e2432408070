"""Traces for the app: the Flask instrumentation continues the caller's `traceparent`
(or starts a trace) and every event the request publishes carries it on
(`services/common/tracing.py`); nothing is installed when tracing is off."""

from __future__ import annotations

from flask import Flask

from services.common.tracing import clear_analysis, configure_tracing

SERVICE_NAME = "strategist"
EXCLUDED_URLS = "healthz,readyz,metrics"
"""Probes and scrapes make no spans: they are not analyses."""


def init_app(app: Flask) -> None:
    """Instrument `app` when the OTEL_* variables turn tracing on."""
    app.teardown_request(lambda _error: clear_analysis())
    if not configure_tracing(SERVICE_NAME):
        return
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    FlaskInstrumentor().instrument_app(app, excluded_urls=EXCLUDED_URLS)

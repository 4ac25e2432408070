"""Logging set-up, done once per process."""

from __future__ import annotations

import logging

from services.common.tracing import LogContext, log_context

LOG_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s %(message)s trace=%(trace_id)s analysis=%(analysis_id)s"
)
"""Every line ends with the trace id and the analysis id ("-" when there is none), so
one analysis can be followed through every process's log and into the trace backend."""


def configure_logging(level: str = "INFO") -> None:
    """Plain, greppable lines on stderr; quiet noisy HTTP client loggers."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, LogContext) for f in handler.filters):
            handler.addFilter(log_context())
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "google_genai", "openai", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

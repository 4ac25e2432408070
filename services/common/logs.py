"""Logging set-up, done once per process."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(level: str = "INFO") -> None:
    """Plain, greppable lines on stderr; quiet noisy HTTP client loggers."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
    for noisy in ("httpx", "httpcore", "httpx2", "httpcore2", "google_genai", "openai", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

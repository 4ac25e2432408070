"""The application factory: `gunicorn 'strategist:create_app()'`."""

from __future__ import annotations

import logging

from flask import Flask

from services.common.logs import configure_logging
from strategist import openapi, probes, router
from strategist.errors import register_error_handlers
from strategist.runtime import Runtime
from strategist.settings import StrategistSettings

logger = logging.getLogger(__name__)


def create_app(settings: StrategistSettings | None = None) -> Flask:
    """Build the Flask app. Connects to nothing: clients start on first use per process."""
    settings = settings or StrategistSettings()
    configure_logging(settings.infra.log_level)
    app = Flask("strategist")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    Runtime(settings).init_app(app)
    register_error_handlers(app)
    app.register_blueprint(router.bp)
    app.register_blueprint(probes.bp)
    app.register_blueprint(openapi.bp)
    logger.info(
        "strategist app: namespace=%s routing.enabled=%s rollout=%d%% sync_timeout=%.1fs "
        "gemini=%s perplexity=%s",
        settings.infra.topic_namespace,
        settings.routing.enabled,
        settings.routing.rollout_percent,
        settings.sync_timeout_s,
        "emulator" if settings.providers.gemini_emulated else "real",
        "emulator" if settings.providers.perplexity_emulated else "real",
    )
    return app

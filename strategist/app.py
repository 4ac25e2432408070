"""The application factory: `gunicorn 'strategist:create_app()'`."""

from __future__ import annotations

import logging

from flask import Flask

from services.common.logs import configure_logging
from strategist import console, metrics, openapi, probes, router, tracing
from strategist.auth.cli import keys
from strategist.auth.gate import AuthGate
from strategist.auth.keyring import Keyring
from strategist.auth.keys import KeyStore
from strategist.auth.ratelimit import RedisLimiter
from strategist.errors import register_error_handlers
from strategist.openai_api import routes as openai_routes
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
    metrics.init_app(app)  # first: its hooks must see requests the key check refuses
    tracing.init_app(app)
    runtime = Runtime(settings)
    runtime.init_app(app)
    _gate(settings, runtime).init_app(app)
    app.cli.add_command(keys)
    register_error_handlers(app)
    app.register_blueprint(router.bp)
    app.register_blueprint(probes.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(openai_routes.bp)
    console.init_app(app, settings)
    logger.info(
        "strategist app: namespace=%s routing.enabled=%s rollout=%d%% sync_timeout=%.1fs "
        "gemini=%s perplexity=%s auth=%s",
        settings.infra.topic_namespace,
        settings.routing.enabled,
        settings.routing.rollout_percent,
        settings.sync_timeout_s,
        "emulator" if settings.providers.gemini_emulated else "real",
        "emulator" if settings.providers.perplexity_emulated else "real",
        settings.auth.mode,
    )
    if settings.infra.database_url is None:
        logger.error("DATABASE_URL is not set: no API key can be checked (requests with a "
                     "key answer 503)")
    return app


def _gate(settings: StrategistSettings, runtime: Runtime) -> AuthGate:
    """Keys from PostgreSQL behind a short cache; rate limits in the process's Redis."""
    auth = settings.auth
    url = settings.infra.database_url
    keyring = Keyring(
        store=KeyStore(database_url=url.get_secret_value() if url else None),
        ttl_s=auth.key_cache_ttl_s,
        last_used_interval_s=auth.last_used_interval_s,
    )
    limiter = RedisLimiter(
        client=lambda: runtime.components.store.client,
        namespace=settings.infra.topic_namespace,
        burst_s=auth.burst_s,
    )
    return AuthGate(settings=auth, keyring=keyring, limiter=limiter)

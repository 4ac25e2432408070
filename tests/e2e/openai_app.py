"""`strategist:create_app()` with the OpenAI-compatible blueprint registered when the
factory does not register it yet (gunicorn: `tests.e2e.openai_app:create_app()`)."""

from __future__ import annotations

from flask import Flask

from strategist import create_app as create_strategist_app
from strategist.openai_api import routes as openai_routes


def create_app() -> Flask:
    app = create_strategist_app()
    if openai_routes.bp.name not in app.blueprints:
        app.register_blueprint(openai_routes.bp)
    return app

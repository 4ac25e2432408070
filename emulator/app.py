"""The emulator's Flask application factory."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from emulator import control, gemini, openai_api, perplexity, timing
from emulator.settings import EmulatorSettings
from emulator.state import EXTENSION_KEY, EmulatorState

MAX_BODY_BYTES = 8 * 1024 * 1024


def create_app(latency_scale: float | None = None) -> Flask:
    """The emulator app; `latency_scale` None means `EMULATOR_LATENCY_SCALE` (default 1.0)."""
    if latency_scale is None:
        latency_scale = EmulatorSettings().latency_scale
    if latency_scale < 0:
        raise ValueError(f"latency_scale must be >= 0, got {latency_scale}")
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = EmulatorState(latency_scale=latency_scale)
    app.register_blueprint(gemini.bp)
    app.register_blueprint(perplexity.bp)
    app.register_blueprint(openai_api.bp)
    app.register_blueprint(control.bp)
    timing.init_app(app)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> tuple[Response, int]:
        code = err.code or 500
        return jsonify(
            {
                "error": {
                    "code": code,
                    "message": err.description,
                    "status": err.name.upper().replace(" ", "_"),
                }
            }
        ), code

    return app

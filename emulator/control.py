"""The control API: set a provider's fault mode, read modes and request counters, reset.

PUT  /_control/providers/<provider>   {"mode": "ok"|"down"|"error"|"rate_limit"|"hang"|
                                        "slow"|"bad_request"}
GET  /_control/providers              modes and counters of every provider
GET  /_control/requests?provider=     the same counters, optionally for one provider
POST /_control/reset                  everything back to "ok", counters cleared
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from emulator.faults import MODES, PROVIDERS
from emulator.state import current_state

logger = logging.getLogger(__name__)

bp = Blueprint("control", __name__, url_prefix="/_control")


def _reject(status: int, reason: str, **extra: object) -> Response:
    response = jsonify({"error": reason, **extra})
    response.status_code = status
    return response


@bp.put("/providers/<provider>")
def set_mode(provider: str) -> Response:
    if provider not in PROVIDERS:
        return _reject(
            400, f"unknown provider {provider!r}", field="provider", providers=list(PROVIDERS)
        )
    body = request.get_json(silent=True)
    mode = body.get("mode") if isinstance(body, dict) else None
    if mode not in MODES:
        return _reject(
            400,
            f"mode must be one of {', '.join(MODES)}; got {mode!r}",
            field="mode",
            modes=list(MODES),
        )
    board = current_state().board
    board.set_mode(provider, mode)
    logger.info("provider=%s mode=%s", provider, mode)
    return jsonify(board.snapshot(provider))


@bp.get("/providers")
def providers() -> Response:
    return jsonify(current_state().board.snapshot())


@bp.get("/requests")
def requests_() -> Response:
    provider = request.args.get("provider")
    if provider is not None and provider not in PROVIDERS:
        return _reject(
            400, f"unknown provider {provider!r}", field="provider", providers=list(PROVIDERS)
        )
    return jsonify(current_state().board.snapshot(provider))


@bp.post("/reset")
def reset() -> Response:
    board = current_state().board
    board.reset()
    logger.info("reset: every provider ok, counters cleared")
    return jsonify(board.snapshot())

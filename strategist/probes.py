"""Liveness and readiness (`/healthz`, `/readyz`).

Liveness says only that the process serves requests. Readiness asks the real
dependencies, each within `readiness_timeout_s`: Kafka for metadata and Redis for
PING; 503 names the one that failed. Both stay open (no key needed); `/readyz`
reports the auth mode, and shows the error texts of failed checks only to a request
with an admin key (others see which check failed, not its text).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from strategist.auth.gate import caller_of
from strategist.runtime import current_runtime

logger = logging.getLogger(__name__)

bp = Blueprint("probes", __name__)
HIDDEN_ERROR = "unreachable (details in the app's log, or ask with an admin key)"


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    runtime = current_runtime()
    components = runtime.components
    timeout_s = runtime.settings.readiness_timeout_s
    checks: dict[str, dict[str, Any]] = {}
    try:
        components.kafka.check(timeout_s)
        checks["kafka"] = {"ok": True}
    except Exception as err:  # any failure means "not ready"; say which and why
        checks["kafka"] = {"ok": False, "error": f"{type(err).__name__}: {err}"[:300]}
    try:
        components.store.ping()
        checks["redis"] = {"ok": True}
    except Exception as err:
        checks["redis"] = {"ok": False, "error": f"{type(err).__name__}: {err}"[:300]}
    failed = [name for name, check in checks.items() if not check["ok"]]
    if failed:
        logger.warning(
            "not ready: %s", "; ".join(f"{name}: {checks[name]['error']}" for name in failed)
        )
        if not caller_of(request.headers.get("Authorization")).is_admin:
            for name in failed:
                checks[name]["error"] = HIDDEN_ERROR
    response = jsonify(
        {
            "status": "not_ready" if failed else "ready",
            "failed": failed,
            "checks": checks,
            "auth_mode": runtime.settings.auth.mode,
        }
    )
    response.status_code = 503 if failed else 200
    return response

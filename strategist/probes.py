"""Liveness and readiness (`/healthz`, `/readyz`).

Liveness says only that the process serves requests. Readiness asks the real
dependencies, each within `readiness_timeout_s`: Kafka for metadata and Redis for
PING; 503 names the one that failed.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify

from strategist.runtime import current_runtime

logger = logging.getLogger(__name__)

bp = Blueprint("probes", __name__)


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
        logger.warning("not ready: %s", ", ".join(failed))
    response = jsonify(
        {"status": "not_ready" if failed else "ready", "failed": failed, "checks": checks}
    )
    response.status_code = 503 if failed else 200
    return response

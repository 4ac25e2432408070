"""The control API: set a provider's fault mode, read modes and request counters, reset.

PUT  /_control/providers/<provider>   {"mode": <mode>, "retry_after_s": s, "delay_s": s,
                                        "after_chunks": n}: a fault mode (emulator/faults.py
                                        lists them) and its options, for "gemini",
                                        "perplexity" or "openai" (the /openai/v1 API)
GET  /_control/providers              modes and counters of every provider
GET  /_control/requests?provider=     the same counters, optionally for one provider
POST /_control/reset                  everything back to "ok", counters cleared, grading off
                                      (the latency scale stays)
PUT  /_control/latency                {"scale": s}: the latency scale from now on (0: answer at
                                       once, 1: realistic; emulator/settings.py)
GET  /_control/latency                the latency scale in force
PUT  /_control/grading                {"accuracy": {model: {tier: p}}, "tiers": {question: tier},
                                       "default_tier": "standard", "seed": 0}: simulate right
                                       and wrong answers (emulator/grading.py)
GET  /_control/grading                the grading set-up and how many answers were graded
GET  /_control/grades?model=&question= the recorded outcomes (for the grader only)
DELETE /_control/grading              grading off, outcomes cleared
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from emulator.faults import MODES, PROVIDERS, FaultOptions
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
    try:
        options = FaultOptions.parse(body if isinstance(body, dict) else {})
    except ValueError as err:
        return _reject(400, str(err), field=str(err).split(":", 1)[0])
    board = current_state().board
    board.set_mode(provider, mode, options)
    logger.info("provider=%s mode=%s options=%s", provider, mode, options)
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
    state = current_state()
    state.board.reset()
    state.grading.reset()
    logger.info("reset: every provider ok, counters cleared, grading off")
    return jsonify(state.board.snapshot())


@bp.put("/latency")
def set_latency() -> Response:
    body = request.get_json(silent=True)
    scale = body.get("scale") if isinstance(body, dict) else None
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 <= scale <= 1000:
        return _reject(400, "scale must be a number within [0, 1000]", field="scale")
    state = current_state()
    state.latency_scale = float(scale)
    logger.info("latency_scale=%s", state.latency_scale)
    return jsonify({"scale": state.latency_scale})


@bp.get("/latency")
def latency() -> Response:
    return jsonify({"scale": current_state().latency_scale})


@bp.put("/grading")
def set_grading() -> Response:
    body = request.get_json(silent=True)
    grading = current_state().grading
    try:
        grading.configure(body if isinstance(body, dict) else {})
    except ValueError as err:
        return _reject(400, str(err), field=str(err).split(":", 1)[0])
    logger.info("grading on: %s", grading.snapshot())
    return jsonify(grading.snapshot())


@bp.get("/grading")
def grading_state() -> Response:
    return jsonify(current_state().grading.snapshot())


@bp.delete("/grading")
def grading_off() -> Response:
    grading = current_state().grading
    grading.reset()
    return jsonify(grading.snapshot())


@bp.get("/grades")
def grades() -> Response:
    found = current_state().grading.lookup(request.args.get("model"), request.args.get("question"))
    return jsonify({"grades": found})

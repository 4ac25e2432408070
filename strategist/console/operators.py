"""The operator pages (admin keys): providers, spend and savings, routing quality.

Pages render the tables; charts fetch `.json` endpoints and draw on the client. Live
provider health and circuits come as server-sent events (`/console/providers/stream`): the
stream reads the health service's statuses and the dispatchers' circuits (Redis) every
`STREAM_POLL_S` and sends a `status` event per provider whose state or circuits changed,
a `:` keep-alive comment otherwise, and ends after `STREAM_LIFETIME_S` (the browser's
EventSource reconnects at once), so a stream never holds a server thread for long.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Response, jsonify, render_template, stream_with_context

from schemas.base import utc_now
from services.common.redis_client import sync_redis
from services.common.spend import read_usage
from strategist.analysis.store import StoreUnavailable
from strategist.console import signin
from strategist.console.access import records
from strategist.console.blueprint import bp
from strategist.console.circuits_view import circuit_view, circuits_of
from strategist.console.figures import (
    accuracy,
    calibration,
    hour_ago,
    latency_by_model,
    month_start,
    savings_by_day,
    spend_by_model,
    spending_campaigns,
    status_history,
    tier_mix_by_day,
)
from strategist.console.records import RecordsUnavailable
from strategist.provider_view import provider_view
from strategist.runtime import current_runtime

STREAM_POLL_S = 0.5
STREAM_KEEPALIVE_S = 15.0
STREAM_LIFETIME_S = 60.0
RETRY_MS = 1000
HISTORY_DAYS = 30
MAX_CAMPAIGNS = 100


def _providers() -> dict[str, Any]:
    components = current_runtime().components
    statuses, error = {}, None
    try:
        statuses = components.store.provider_statuses()
    except StoreUnavailable:
        error = "provider status store (Redis) unreachable"
    view = provider_view(catalogue=components.catalogue, statuses=statuses,
                         emulated=components.emulated(), status_error=error, show_errors=True)
    circuits = circuit_view()
    for provider in view["providers"]:
        provider["circuits"] = circuits_of(provider, circuits)
    return view


def _states(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        p["provider"]: {"provider": p["provider"], "state": p["state"],
                        "reason": p.get("reason"), "stale": p.get("stale", False),
                        "circuits": p["circuits"]}
        for p in view["providers"]
    }


@bp.get("/providers")
def providers() -> str:
    signin.admin()
    view = _providers()
    try:  # the live table is worth showing without the decision records
        latency = latency_by_model(records(), hour_ago(utc_now()))
    except RecordsUnavailable:
        latency = None
    return render_template("console/providers.html", view=view, latency=latency)


@bp.get("/providers/history.json")
def providers_history() -> Response:
    signin.admin()
    now = utc_now()
    return jsonify({"since": hour_ago(now).isoformat(), "until": now.isoformat(),
                    "providers": status_history(records(), hour_ago(now))})


@bp.get("/providers/stream")
def providers_stream() -> Response:
    signin.admin()

    def events() -> Iterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        sent: dict[str, dict[str, Any]] = {}
        started = last = time.monotonic()
        while time.monotonic() - started < STREAM_LIFETIME_S:
            for name, state in _states(_providers()).items():
                if sent.get(name) != state:
                    sent[name] = state
                    last = time.monotonic()
                    yield f"event: status\ndata: {json.dumps(state)}\n\n"
            if time.monotonic() - last >= STREAM_KEEPALIVE_S:
                last = time.monotonic()
                yield ": keep-alive\n\n"
            time.sleep(STREAM_POLL_S)

    reply = Response(stream_with_context(events()), mimetype="text/event-stream")
    reply.headers["X-Accel-Buffering"] = "no"
    return reply


def _usage(since: Any) -> list[dict[str, Any]]:
    """Each campaign that spent this month, its books (Redis) against its limit."""
    settings = current_runtime().settings
    campaigns = spending_campaigns(records(), since, MAX_CAMPAIGNS)
    client = sync_redis(settings.infra.redis_url, concurrency=1)
    try:
        return [{**read_usage(client, settings.infra.topic_namespace, c).__dict__,
                 "recorded_usd": cost} for c, cost in campaigns.items()]
    finally:
        client.close()


@bp.get("/spend")
def spend() -> str:
    signin.admin()
    now = utc_now()
    by_model = spend_by_model(records(), month_start(now))
    cost = sum(r["cost_usd"] for r in by_model)
    baseline = sum(r["baseline_usd"] for r in by_model)
    return render_template("console/spend.html", usage=_usage(month_start(now)), by_model=by_model,
                           cost=cost, baseline=baseline,
                           saving=(baseline - cost) / baseline * 100 if baseline else None)


@bp.get("/spend/savings.json")
def spend_savings() -> Response:
    signin.admin()
    since = utc_now() - timedelta(days=HISTORY_DAYS)
    return jsonify({"days": savings_by_day(records(), since)})


@bp.get("/routing")
def routing() -> str:
    signin.admin()
    since = month_start(utc_now())
    return render_template("console/routing.html", accuracy=accuracy(records(), since),
                           calibration=calibration(records(), since))


@bp.get("/routing/data.json")
def routing_data() -> Response:
    signin.admin()
    since = month_start(utc_now())
    return jsonify({"tiers": tier_mix_by_day(records(), since),
                    "calibration": calibration(records(), since)})

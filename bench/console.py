"""Server time of every console page over 100,000 analyses (`python -m bench.console`).

Fills a throwaway PostgreSQL database (created and dropped here; nothing else is
touched) with `--analyses` analyses of one campaign spread over 90 days, each with its
routing decision (and a tenth as many of a second campaign, so the campaign filter has
something to leave out), plus a graded, scored analysis per thousand. Then it asks the
app (built in this process by `create_app`, with the real Redis for the live figures)
for every page `--rounds` times, signed in as a strategist or an admin as the page
needs, and prints p50 / p95 / max server time per page and the process's memory (RSS).
The history is read by keyset on the analysis id: the deep page starts half way back.

Needs PostgreSQL (`DATABASE_URL` or the local one) and Redis (`REDIS_URL`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from flask.testing import FlaskClient
from sqlalchemy import insert

from bench.recorder import _scratch_database
from services.common.database import local_database_url, make_engine, upgrade
from services.common.tables import Analysis, ConfidenceScore, Feedback, RoutingDecision
from strategist.analysis.ids import new_analysis_id
from strategist.auth.keys import issue_key

DEFAULT_ANALYSES = 100_000
DEFAULT_ROUNDS = 40
BATCH = 5_000
SPREAD_DAYS = 90
CAMPAIGN = "bench-console"
OTHER = "bench-console-other"
TIERS = ("simple", "standard", "complex", "live")
MODELS = (("local", "smollm2-135m"), ("gemini", "gemini-2.5-flash"),
          ("gemini", "gemini-2.5-pro"), ("perplexity", "sonar"))
TOPICS = ("turnout in the suburbs", "a rapid response to the debate", "volunteer thank-you "
          "notes", "polling in district 7", "the fundraising email", "ad spend by county")
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _rows(n: int, campaign: str, now: datetime, rng: random.Random) -> Iterator[
        tuple[dict[str, Any], dict[str, Any]]]:
    for i in range(n):
        at = now - timedelta(seconds=rng.uniform(0, SPREAD_DAYS * 86400))
        analysis_id = new_analysis_id(int(at.timestamp() * 1000), keyed=True)
        tier_index = rng.randrange(4)
        provider, model = MODELS[tier_index]
        status = rng.choices(("completed", "failed", None), (90, 8, 2))[0]
        cost = rng.uniform(0.00001, 0.01) if status == "completed" else 0.0
        yield (
            {"analysis_id": analysis_id, "campaign_id": campaign,
             "query": f"Draft something on {rng.choice(TOPICS)} (#{i})",
             "submitted_at": at, "status": status,
             "provider": provider if status else None, "model": model if status else None,
             "result": "An answer." if status == "completed" else None,
             "cost_usd": cost if status else None,
             "baseline_cost_usd": cost * rng.uniform(1.2, 3.0) if status else None,
             "latency_ms": rng.uniform(300, 6000) if status else None,
             "created_at": at, "completed_at": at + timedelta(seconds=2) if status else None},
            {"analysis_id": analysis_id, "tier": TIERS[tier_index],
             "tier_probabilities": {TIERS[tier_index]: 0.8}, "router_version": "bench",
             "route": [{"provider": provider, "model": model, "reason": "bench"}],
             "analysis_type": "general", "complexity": 0.5, "needs_live_data": tier_index == 3,
             "cost_sensitive": False, "features": {}, "reasons": [], "event_id": analysis_id,
             "decided_at": at + timedelta(milliseconds=40)},
        )


def seed(url: str, analyses: int) -> dict[str, Any]:
    """Fill the scratch database; returns one analysis id of CAMPAIGN to open."""
    engine = make_engine(url, pool_size=1)
    rng = random.Random(17)
    now = datetime.now(UTC)
    sample = None
    try:
        upgrade(engine)
        for campaign, n in ((CAMPAIGN, analyses), (OTHER, analyses // 10)):
            pairs = list(_rows(n, campaign, now, rng))
            sample = sample or pairs[0][0]["analysis_id"]
            with engine.begin() as connection:
                for start in range(0, len(pairs), BATCH):
                    chunk = pairs[start:start + BATCH]
                    connection.execute(insert(Analysis), [a for a, _ in chunk])
                    connection.execute(insert(RoutingDecision), [d for _, d in chunk])
                    graded = [a for a, _ in chunk[::1000] if a["status"] == "completed"]
                    if graded:
                        connection.execute(insert(ConfidenceScore),
                                           [_score(a, rng) for a in graded])
                        connection.execute(insert(Feedback), [_grade(a, rng) for a in graded])
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return {"sample": sample}


def _score(a: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"analysis_id": a["analysis_id"], "score": rng.random(), "raw_score": rng.random(),
            "calibration_version": "bench", "components": {}, "provider": a["provider"],
            "model": a["model"], "analysis_type": "general", "event_id": a["analysis_id"],
            "scored_at": a["completed_at"]}


def _grade(a: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"event_id": "fb" + a["analysis_id"][2:], "analysis_id": a["analysis_id"],
            "rating": rng.choice(("correct", "partially_correct", "incorrect")),
            "provider": a["provider"], "model": a["model"], "campaign_id": a["campaign_id"],
            "given_at": a["completed_at"]}


def _signed_in(app: Any, key: str) -> FlaskClient:
    client: FlaskClient = app.test_client()
    found = TOKEN.search(client.get("/console/login").get_data(as_text=True))
    assert found, "the sign-in page has a CSRF token"
    reply = client.post("/console/login", data={"api_key": key, "csrf_token": found.group(1)})
    if reply.status_code != 302:
        raise SystemExit(f"sign-in failed: {reply.status_code}")
    return client


def _pages(sample: str, middle: str) -> list[tuple[str, str, str]]:
    """(name, who, path) of every page and chart endpoint."""
    since = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    return [
        ("history, first page", "strategist", "/console/history"),
        ("history, half way back", "strategist", f"/console/history?after={middle}"),
        ("history, tier+provider+status", "strategist",
         "/console/history?tier=complex&provider=gemini&status=completed"),
        ("history, date range", "strategist", f"/console/history?from={since}"),
        ("history, text", "strategist", "/console/history?q=district"),
        ("history, rare text", "strategist", "/console/history?q=%2399999)"),
        ("analysis", "strategist", f"/console/analyses/{sample}"),
        ("ask", "strategist", "/console/"),
        ("providers", "admin", "/console/providers"),
        ("providers/history.json", "admin", "/console/providers/history.json"),
        ("spend", "admin", "/console/spend"),
        ("spend/savings.json", "admin", "/console/spend/savings.json"),
        ("routing", "admin", "/console/routing"),
        ("routing/data.json", "admin", "/console/routing/data.json"),
        ("keys", "admin", "/console/keys"),
    ]


def run(database_url: str, analyses: int, rounds: int) -> dict[str, Any]:
    with _scratch_database(database_url) as url:
        seeded = seed(url, analyses)
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("STRATEGIST_CONSOLE__SECRET_KEY", os.urandom(32).hex())
        from strategist.app import create_app  # after the environment names the scratch db

        app = create_app()
        clients = {
            "strategist": _signed_in(app, issue_key(url, CAMPAIGN).key),
            "admin": _signed_in(app, issue_key(url, "bench-ops", role="admin").key),
        }
        middle = new_analysis_id(int((time.time() - SPREAD_DAYS * 86400 / 2) * 1000))
        figures = []
        for name, who, path in _pages(seeded["sample"], middle):
            client = clients[who]
            times = []
            for _ in range(rounds + 1):
                started = time.perf_counter()
                reply = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                if reply.status_code != 200:
                    raise SystemExit(f"{path}: {reply.status_code} "
                                     f"{reply.get_data(as_text=True)[:300]}")
            times = sorted(times[1:])  # the first request warms caches and connections
            figures.append({"page": name, "path": path, "p50_ms": statistics.median(times),
                            "p95_ms": times[int(0.95 * (len(times) - 1))],
                            "max_ms": times[-1]})
        rss = psutil.Process().memory_info().rss / 2**20
        app.extensions["strategist"].close()
    return {"analyses": analyses, "rounds": rounds, "pages": figures, "rss_mib": rss}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--analyses", type=int, default=DEFAULT_ANALYSES)
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures = run(local_database_url(), args.analyses, args.rounds)
    if args.format == "json":
        print(json.dumps(figures))
        return 0
    print(f"console over {figures['analyses']:,} analyses (+{figures['analyses'] // 10:,} of "
          f"another campaign), {figures['rounds']} requests per page, server time in ms:")
    for f in figures["pages"]:
        print(f"  {f['page']:<32} p50 {f['p50_ms']:6.1f}  p95 {f['p95_ms']:6.1f}  "
              f"max {f['max_ms']:6.1f}")
    print(f"  app process memory (RSS) {figures['rss_mib']:.0f} MiB; "
          f"run took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

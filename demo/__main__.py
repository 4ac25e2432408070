"""Send the sample questions through the running stack and print how each was routed.

Also runs a baseline in the same session (every question sent straight to Gemini 2.5
Pro) to print the saving, and shows one failover by switching Gemini off in the
emulator. Needs `make up` (or `make demo`, which starts it). Sends an API key of the
campaign `demo-campaign`: STRATEGIST_API_KEY, or one it makes in the stack's database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from core.economics import measured_baseline_cost_usd
from demo.questions import SAMPLE_QUESTIONS
from demo.routine_policy import routine_policy_table
from evaluation.baseline_agreement import Agreement
from providers.catalogue import DEFAULT_CATALOGUE
from providers.gemini import GeminiProvider
from providers.settings import ProviderSettings
from schemas.query import QueryRequested
from strategist.auth.keys import KeyStoreUnavailable
from strategist.auth.tool_keys import NoKeyAvailable, tool_headers, tool_key

API = "/api/v1/strategist"
REQUEST_TIMEOUT_S = 90.0
CAMPAIGN = "demo-campaign"
KEY_RATE_PER_MINUTE = 600
WEAK_MODEL_NOTE = (
    "Note: the local model is SmolLM2-135M-Instruct, a 135M-parameter model: most of its "
    "answers are unusable (14 of 172 on the routine set's dev split), it invents facts and "
    "cannot translate. It is here so the demo runs offline; production sets LOCAL_MODEL_PATH "
    "to a real instruct GGUF."
)


def _row(number: int, question: str, body: dict[str, Any], status: int) -> str:
    routing = body.get("routing") or {}
    route = " > ".join(f"{s['provider']}/{s['model']}" for s in routing.get("route", []))
    failed = [
        f"{a['provider']}({a['error_kind']})"
        for a in routing.get("failed_attempts", []) + routing.get("skipped", [])
    ]
    confidence = (body.get("confidence") or {}).get("score")
    classification = routing.get("classification") or {}
    tier = classification.get("tier")
    probability = (classification.get("tier_probabilities") or {}).get(tier or "")
    decided = (
        f"{tier} (p={probability:.2f}, {classification.get('router_version')})"
        if tier and probability is not None
        else (tier or "-")
    )
    source = (
        "emulator"
        if routing.get("emulated")
        else ("local model" if routing.get("provider") == "local" else "real API")
    )
    lines = [
        f"{number:2d}. {question[:88]}",
        f"    tier      {decided}",
        f"    route     {route or '-'}",
        f"    why       {(routing.get('route') or [{}])[0].get('reason', '-')[:160]}",
        f"    answered  {routing.get('provider')}/{routing.get('model')} [{source}]  "
        f"HTTP {status}  fallbacks: {', '.join(failed) or 'none'}",
        f"    cost ${routing.get('cost_usd', 0):.6f} (all-Pro estimate "
        f"${routing.get('baseline_cost_usd', 0):.6f})  confidence "
        f"{confidence if confidence is not None else '-'}  latency "
        f"{routing.get('latency_ms', 0):.0f} ms",
        f"    answer    {(body.get('result') or body.get('error') or '')[:150]!r}",
    ]
    if routing.get("escalation_reason"):
        lines.append(f"    escalated {routing['escalation_reason'][:200]}")
    return "\n".join(lines)


async def _baseline_cost(questions: list[str], settings: ProviderSettings) -> float | None:
    """Cost of sending every question to Gemini 2.5 Pro, measured now (emulator or real)."""
    provider = GeminiProvider(settings=settings)
    try:
        total, failed = await measured_baseline_cost_usd(
            provider,
            DEFAULT_CATALOGUE,
            [QueryRequested(query_id=f"demo-{i}", query=q) for i, q in enumerate(questions)],
        )
    finally:
        await provider.aclose()
    if failed:
        print(f"[demo] baseline unavailable: {failed} Gemini 2.5 Pro calls failed")
        return None
    return total


def _audit_trail(analysis_id: str, since: float) -> None:
    """Every answer can be explained after the fact, from the topics alone."""
    for title, args in (
        (f"audit show {analysis_id}", ["show", analysis_id]),
        ("audit replay for this demo's window", ["replay", "--since", f"{since:.3f}"]),
    ):
        print(f"\n[demo] {title}\n")
        done = subprocess.run(
            [sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=120
        )
        print(done.stdout.rstrip() or done.stderr.rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--emulator-url", default=None)
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip the all-Gemini-Pro baseline (it doubles spend with real keys)",
    )
    args = parser.parse_args(argv)
    settings = ProviderSettings()
    emulator_url = args.emulator_url or settings.emulator_url

    headers = tool_headers(CAMPAIGN, rate_per_minute=KEY_RATE_PER_MINUTE)
    print(f"[demo] requests carry an API key of campaign {CAMPAIGN} (Authorization: Bearer)")
    client = httpx.Client(base_url=args.url, timeout=REQUEST_TIMEOUT_S, headers=headers)
    started_at = time.time()
    analysis_ids: list[str] = []
    print(f"[demo] {len(SAMPLE_QUESTIONS)} sample questions through {args.url}{API}/analyze\n")
    print(WEAK_MODEL_NOTE + "\n")
    print(routine_policy_table() + "\n")
    costs, baselines, latencies = [], [], []
    for number, question in enumerate(SAMPLE_QUESTIONS, 1):
        response = client.post(
            f"{API}/analyze", json={"query": question, "campaign_id": CAMPAIGN}
        )
        body = response.json()
        print(_row(number, question, body, response.status_code) + "\n")
        if body.get("analysis_id"):
            analysis_ids.append(body["analysis_id"])
        routing = body.get("routing") or {}
        costs.append(routing.get("cost_usd", 0.0))
        baselines.append(routing.get("baseline_cost_usd", 0.0))
        latencies.append(routing.get("latency_ms", 0.0))

    print("[demo] failover: switching Gemini off in the provider emulator")
    failover_question = SAMPLE_QUESTIONS[3]
    try:
        httpx.put(f"{emulator_url}/_control/providers/gemini", json={"mode": "down"}, timeout=5)
        response = client.post(
            f"{API}/analyze", json={"query": failover_question, "campaign_id": CAMPAIGN}
        )
        print(_row(13, failover_question, response.json(), response.status_code))
        print("    " + (response.json().get("routing") or {}).get("explanation", "") + "\n")
    finally:
        httpx.put(f"{emulator_url}/_control/providers/gemini", json={"mode": "ok"}, timeout=5)

    routed_cost = sum(costs)
    print(
        f"[demo] routed: total cost ${routed_cost:.6f}, median latency "
        f"{statistics.median(latencies):.0f} ms"
    )
    baseline = None if args.no_baseline else asyncio.run(_baseline_cost(SAMPLE_QUESTIONS, settings))
    for line in Agreement(routed_cost, sum(baselines), baseline or 0.0).lines():
        print(f"[demo] {line}")
    usage = client.get(f"{API}/usage")
    if usage.status_code == 200:
        books = usage.json()
        limit = books["limit_usd"]
        print(
            f"[demo] campaign {CAMPAIGN} this month: spent ${books['spent_usd']:.6f}, limit "
            + ("none" if limit is None else f"${limit:.2f}")
        )
    if analysis_ids:
        _audit_trail(analysis_ids[0], started_at)
    if settings.gemini_emulated or settings.perplexity_emulated:
        print(
            "[demo] answers marked [emulator] came from the provider emulator (no API keys "
            "set); costs are computed from its realistic token usage at list prices."
        )
    _console_sign_in(args.url)
    return 0


def _console_sign_in(url: str) -> None:
    """The console's address and an admin key to sign in with (made now, shown once)."""
    try:
        key = tool_key(CAMPAIGN, role="admin", rate_per_minute=KEY_RATE_PER_MINUTE)
    except (NoKeyAvailable, KeyStoreUnavailable) as err:
        print(f"[demo] console: {url}/console/ (no key made: {err}; "
              "flask --app strategist keys create CAMPAIGN --role admin makes one)")
        return
    print(f"[demo] console: {url}/console/ ; sign in with this admin key (shown once):")
    print(key.key)


if __name__ == "__main__":
    sys.exit(main())

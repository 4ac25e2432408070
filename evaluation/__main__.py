"""`make eval`: the routing economics on the held-out split, and the local models.

The default split is `holdout` (data/routing/holdout.jsonl, written independently and
never used for a choice); `--split test` gives the older test split, read before.

    python -m evaluation [--url URL] [--split holdout|test|dev] [--concurrency N]
                         [--skip-local-models] [--local-limit N] [--format table|json]
                         [--skip-routine | --routine-only] [--routine-limit N]

1. Sends every question of the split through the running stack's
   `POST /api/v1/strategist/analyze` (`make eval` starts the stack first) with an API
   key of the campaign `eval` (STRATEGIST_API_KEY, or one made in the stack's
   database) and prints what the stack really spent against the same questions sent
   to Gemini 2.5 Pro in this run, and the most any router could save on this mix (a
   router that never errs, priced at the run's measured cost per tier).
2. Scores the learned router and simple baselines (always Pro, always Flash, the
   old keyword rules, random) in the same run: accuracy per tier and overall,
   confusion matrices, complex questions sent to the local model, and an estimated
   cost for each on equal terms.
3. Prints the router's decision time (features + model, in process).
4. Compares the local model candidates on the dev split's simple tier
   (`evaluation.local_models`), unless skipped.
5. Routine work (`evaluation.routine.stack_run`): the routine set's test split through
   the stack under the capability policy, beside today's policy and the local model
   checked, measured in the same run: usable final answers, the local model's share and
   the usable rate of what it serves, and the latency escalation adds at p95.
   `--routine-only` runs this section alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict

from core.economics import measured_baseline_cost_usd
from evaluation.baseline_agreement import Agreement
from evaluation.routine.stack_run import RoutineRun, measure
from evaluation.routine.stack_run import render as render_routine
from evaluation.routine.tasks import load_tasks
from evaluation.routing import (
    EVAL_CAMPAIGN,
    LEARNED,
    perfect_router_cost,
    render_priced,
    run_through_stack,
    score_routers,
    today_policy_cost,
)
from providers.catalogue import DEFAULT_CATALOGUE
from providers.gemini import GeminiProvider
from providers.settings import ProviderSettings
from schemas.query import QueryRequested
from services.classifier.dataset import DATA_DIR, SPLITS, Example, load_split
from services.classifier.evaluate import evaluate_router, render
from services.classifier.tier_model import DEFAULT_ARTIFACT
from services.classifier.tier_router import TierRouter
from strategist.auth.tool_keys import tool_headers

EVAL_KEY_RATE_PER_MINUTE = 100_000
"""The evaluation sends the whole split as fast as the stack answers: not a rate test."""
TARGETS = "targets: accuracy >= 92%, complex sent to the local model <= 3%, saving >= 60%"
ROUTINE_TARGETS = (
    "targets: usable final answers >= 90%, saving against all-Pro >= 51%, escalation adds "
    "<= 1 s at p95"
)
ROUTINE_CONCURRENCY = 2
"""The local model answers one request at a time: more callers only queue."""


def _routine(args: argparse.Namespace, headers: dict[str, str]) -> RoutineRun:
    tasks = load_tasks("test")
    if args.routine_limit is not None:
        tasks = tasks[: args.routine_limit]
    print(f"[eval] {len(tasks)} routine test tasks through {args.url}", file=sys.stderr)
    return measure(
        tasks, args.url, campaign=EVAL_CAMPAIGN, concurrency=ROUTINE_CONCURRENCY,
        headers=headers, say=lambda line: print(f"[eval] {line}", file=sys.stderr),
    )  # fmt: skip


def _print_routine(run: RoutineRun, saving: float | None, today_saving: float | None) -> None:
    print(f"\n## Routine work (data/routine/ test split, {ROUTINE_TARGETS})\n")
    print(render_routine(run.passes, run.added_s))
    if saving is not None and today_saving is not None:
        print(
            f"saving against all-Gemini-2.5-Pro on the routing split: {saving:.1%} under the "
            f"capability policy; today's policy in the same run (simple tier on the local "
            f"model at $0, estimated): {today_saving:.1%}"
        )


async def _measured_all_pro(examples: list[Example]) -> tuple[float, int]:
    """The all-Gemini-2.5-Pro baseline, measured now on the same questions."""
    provider = GeminiProvider(settings=ProviderSettings())
    try:
        return await measured_baseline_cost_usd(
            provider,
            DEFAULT_CATALOGUE,
            [QueryRequested(query_id=e.id, query=e.query) for e in examples],
        )
    finally:
        await provider.aclose()


def _progress(done: int, total: int, outcome: object) -> None:
    print(f"\r[eval] {done}/{total} questions answered", end="", file=sys.stderr, flush=True)
    if done == total:
        print(file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running app")
    parser.add_argument("--split", default="holdout", choices=list(SPLITS))
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--skip-local-models", action="store_true")
    parser.add_argument("--local-limit", type=int, default=None, help="items per local model")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    routine = parser.add_mutually_exclusive_group()
    routine.add_argument("--skip-routine", action="store_true", help="no routine section")
    routine.add_argument("--routine-only", action="store_true", help="only the routine section")
    parser.add_argument("--routine-limit", type=int, default=None, help="first N routine tasks")
    args = parser.parse_args(argv)
    headers = tool_headers(EVAL_CAMPAIGN, rate_per_minute=EVAL_KEY_RATE_PER_MINUTE)
    if args.routine_only:
        run = _routine(args, headers)
        if args.format == "json":
            print(json.dumps(run.to_json(), indent=2))
        else:
            _print_routine(run, None, None)
        return 0

    examples = load_split(args.split)
    print(f"[eval] {len(examples)} {args.split} questions through {args.url}", file=sys.stderr)
    outcomes = run_through_stack(
        examples, args.url, concurrency=args.concurrency, headers=headers, progress=_progress
    )
    failed = [o for o in outcomes if o.status != 200]
    spent = sum(o.cost_usd for o in outcomes)
    baseline = sum(o.baseline_cost_usd for o in outcomes)
    saving = 1 - spent / baseline if baseline else 0.0
    measured_pro, pro_failed = asyncio.run(_measured_all_pro(examples))
    measured_saving = 1 - spent / measured_pro if measured_pro else 0.0
    today_saving = 1 - today_policy_cost(outcomes) / measured_pro if measured_pro else 0.0
    perfect = perfect_router_cost(outcomes)
    perfect_saving = 1 - perfect / measured_pro if perfect is not None and measured_pro else None
    scores = score_routers(outcomes)
    router = TierRouter.load(DEFAULT_ARTIFACT)
    timing = evaluate_router(router, examples)
    local = None
    if not args.skip_local_models:
        from evaluation.local_models import compare_local_models

        local = compare_local_models(DATA_DIR / "dev.jsonl", limit=args.local_limit)
    routine_run = None if args.skip_routine else _routine(args, headers)

    if args.format == "json":
        print(
            json.dumps(
                {
                    "split": args.split,
                    "questions": len(outcomes),
                    "http_errors": len(failed),
                    "spent_usd": spent,
                    "all_pro_baseline_usd": baseline,
                    "saving": saving,
                    "measured_all_pro_usd": measured_pro,
                    "measured_saving": measured_saving,
                    "all_pro_estimate_gap": Agreement(spent, baseline, measured_pro).gap,
                    "perfect_router_usd": perfect,
                    "perfect_router_saving": perfect_saving,
                    "routers": [
                        {**asdict(s.routing), "estimated_cost_usd": s.estimated_cost_usd}
                        for s in scores
                    ],
                    "decision_ms_p50": timing.decision_ms_p50,
                    "decision_ms_p99": timing.decision_ms_p99,
                    "local_models": local.to_json() if local is not None else None,
                    "today_policy_saving": today_saving,
                    "routine": routine_run.to_json() if routine_run is not None else None,
                },
                indent=2,
            )
        )
        return 0
    learned = next(s.routing for s in scores if s.routing.name == LEARNED)
    print(f"\n## Routing on the {args.split} split ({len(outcomes)} questions, {TARGETS})\n")
    print(
        f"the stack spent ${spent:.4f}; every question sent to Gemini 2.5 Pro in this run "
        f"(measured, thinking tokens billed): ${measured_pro:.4f} -> saving "
        f"{measured_saving:.1%}{f' ({pro_failed} Pro calls failed)' if pro_failed else ''}"
    )
    for line in Agreement(spent, baseline, measured_pro).lines(measured_line=False):
        print(f"  {line}")
    if perfect is not None and perfect_saving is not None:
        print(
            f"  a router that never errs (estimate: each question at this run's mean measured "
            f"cost of its labelled tier): ${perfect:.4f} -> saving {perfect_saving:.1%}, the "
            f"most routing can save on this mix"
        )
    print(
        f"learned router: accuracy {learned.accuracy:.1%}, complex questions sent to the "
        f"local model {learned.complex_to_simple:.1%}; HTTP errors {len(failed)}"
    )
    print(
        f"decision time (features + model, {router.version}): p50 {timing.decision_ms_p50:.1f}"
        f" ms, p99 {timing.decision_ms_p99:.1f} ms\n"
    )
    print("Against simple routers in the same run (costs estimated on equal terms):\n")
    print(render_priced(scores))
    print()
    print(render([s.routing for s in scores]))
    if local is not None:
        print("\n## Local model candidates (dev split, simple tier)\n")
        print(local.table())
    if routine_run is not None:
        _print_routine(routine_run, measured_saving, today_saving)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())

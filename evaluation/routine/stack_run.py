"""The routine set's test split through the running stack: the policy as configured,
beside today's policy (issue 19, section 4), in one run.

Three passes over the same tasks, each through `POST /api/v1/strategist/analyze`:

- `policy`: each task as a strategist sends it: the capability-aware route, and the
  pre-release check on any local answer;
- `today`: the policy before issue 19: every task the router puts in the simple tier
  answered by the local model, unchecked (sent with `options.model` naming the local
  model, which the scorer never escalates); other tiers as in `policy`;
- `checked`: the simple tier on the local model first with the check (sent with
  `options.prefer = "cost"`): measures what the check and its escalations cost in
  latency, and the usable rate it reaches, whatever the local model's rates.

A final answer from the local model is graded by the routine grader; a hosted answer
comes from the emulator, which cannot be judged, and is counted usable (the output
says so). Latency is the wall time of the HTTP call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from evaluation.routine.grading import grade
from evaluation.routine.tasks import Task
from providers.catalogue import LOCAL_MODEL

ANALYZE = "/api/v1/strategist/analyze"
REQUEST_TIMEOUT_S = 180.0
PASSES = ("policy", "today", "checked")
HOSTED_NOTE = "hosted answers come from the emulator and are counted usable (not judged)"


@dataclass(frozen=True)
class RoutineOutcome:
    """One task's final answer in one pass."""

    task: Task
    status: int
    provider: str | None
    tier: str | None
    kind: str | None
    text: str
    seconds: float
    cost_usd: float
    escalated: bool
    escalation_reason: str | None
    latency_ms: float = 0.0
    """The stack's own measure (`routing.latency_ms`), query to answer."""
    provider_ms: float = 0.0
    """The provider calls' time (`routing.provider_latency_ms`)."""
    set_aside_ms: float = 0.0
    """The set-aside answer's call (`routing.escalated_from`), when escalated."""

    @property
    def local(self) -> bool:
        return self.provider == "local"

    @property
    def usable(self) -> bool:
        """Graded when the local model answered; a hosted answer is counted usable."""
        if self.status != 200:
            return False
        return grade(self.task, self.text).usable if self.local else True


def ask(client: httpx.Client, task: Task, campaign: str, options: dict[str, Any]) -> RoutineOutcome:
    """One task through the stack; a transport error is a failed outcome (status 0)."""
    started = time.monotonic()
    try:
        response = client.post(
            ANALYZE, json={"query": task.query, "campaign_id": campaign, "options": options}
        )
    except httpx.HTTPError:
        return RoutineOutcome(task, 0, None, None, None, "", time.monotonic() - started, 0.0,
                              False, None)  # fmt: skip
    seconds = time.monotonic() - started
    body: dict[str, Any] = response.json() if response.content else {}
    routing = body.get("routing") or {}
    classification = routing.get("classification") or {}
    return RoutineOutcome(
        task=task, status=response.status_code, provider=routing.get("provider"),
        tier=classification.get("tier"), kind=classification.get("routine_kind"),
        text=body.get("result") or "", seconds=seconds,
        cost_usd=float(routing.get("cost_usd") or 0.0),
        escalated=bool(routing.get("escalated_from")),
        escalation_reason=routing.get("escalation_reason"),
        latency_ms=float(routing.get("latency_ms") or 0.0),
        provider_ms=float(routing.get("provider_latency_ms") or 0.0),
        set_aside_ms=sum(float(a.get("latency_ms") or 0.0)
                         for a in routing.get("escalated_from") or []),
    )  # fmt: skip


def run_pass(
    tasks: Sequence[Task],
    base_url: str,
    options_for: Callable[[Task], dict[str, Any] | None],
    *,
    campaign: str,
    concurrency: int,
    headers: dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RoutineOutcome | None]:
    """Every task whose `options_for` is not None, in order (None where skipped)."""

    def one(task: Task) -> RoutineOutcome | None:
        options = options_for(task)
        if options is None:
            return None
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, headers=headers) as client:
            return ask(client, task, campaign, options)

    outcomes: list[RoutineOutcome | None] = []
    with ThreadPoolExecutor(concurrency) as pool:
        for done, outcome in enumerate(pool.map(one, tasks), start=1):
            outcomes.append(outcome)
            if progress is not None:
                progress(done, len(tasks))
    return outcomes


def percentile(values: Sequence[float], share: float) -> float | None:
    """The `share` percentile (nearest rank), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def p95(values: Sequence[float]) -> float | None:
    """The 95th percentile (nearest rank), None for no values."""
    return percentile(values, 0.95)


@dataclass(frozen=True)
class PassFigures:
    """What one policy did with the routine tasks."""

    name: str
    tasks: int
    usable: int
    local: int
    local_usable: int
    escalated: int
    latency_p95_s: float | None
    cost_usd: float
    latency_p50_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "usable_rate": self.usable_rate, "local_share": self.local_share}

    @property
    def usable_rate(self) -> float:
        return self.usable / self.tasks if self.tasks else 0.0

    @property
    def local_share(self) -> float:
        return self.local / self.tasks if self.tasks else 0.0


def figures(name: str, outcomes: Sequence[RoutineOutcome]) -> PassFigures:
    local = [o for o in outcomes if o.local]
    return PassFigures(
        name=name, tasks=len(outcomes), usable=sum(o.usable for o in outcomes),
        local=len(local), local_usable=sum(o.usable for o in local),
        escalated=sum(o.escalated for o in outcomes),
        latency_p95_s=p95([o.seconds for o in outcomes]),
        cost_usd=sum(o.cost_usd for o in outcomes),
        latency_p50_s=percentile([o.seconds for o in outcomes], 0.5),
    )  # fmt: skip


def escalation_added_s(outcomes: Sequence[RoutineOutcome]) -> list[float]:
    """What escalation added to each escalated answer, in seconds, as the stack measured
    it: the answer's latency less the set-aside local call and less the pipeline's usual
    overhead (the median, over this pass's unescalated local answers, of latency less
    their provider calls). What is left is the check, the second hop through the topics,
    the next model's call and the second scoring; the local model's own time (and its
    queueing, which varies from run to run) is not counted."""
    plain = [o.latency_ms - o.provider_ms for o in outcomes if o.local and not o.escalated]
    overhead = percentile(plain, 0.5) or 0.0
    return [
        max(o.latency_ms - o.set_aside_ms - overhead, 0.0) / 1000
        for o in outcomes
        if o.escalated and o.latency_ms
    ]


def render(passes: Sequence[PassFigures], added: Sequence[float]) -> str:
    """The routine table and the escalation latency line."""
    lines = [
        "| policy | tasks | usable final answers | local share | usable of local | "
        "escalated | p50 / p95 latency s | cost $ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in passes:
        local_usable = f"{f.local_usable}/{f.local}" if f.local else "-"
        p95_s = "-" if f.latency_p95_s is None else f"{f.latency_p95_s:.2f}"
        if f.latency_p50_s is not None:
            p95_s = f"{f.latency_p50_s:.2f} / {p95_s}"
        lines.append(
            f"| {f.name} | {f.tasks} | {f.usable_rate:.1%} ({f.usable}) | {f.local_share:.1%} | "
            f"{local_usable} | {f.escalated} | {p95_s} | {f.cost_usd:.4f} |"
        )
    worst = p95(added)
    lines.append(
        "\nescalation adds "
        + (
            f"{worst:.2f} s at p95 (p50 {percentile(added, 0.5):.2f} s) over {len(added)} "
            "escalated answers: the check, the second hop and the next model's call "
            "(routing.latency_ms less the set-aside call and the usual overhead; target <= 1 s)"
            if worst is not None
            else "nothing measurable: no answer escalated in this run"
        )
    )
    lines.append(f"(* {HOSTED_NOTE})")
    return "\n".join(lines)


@dataclass(frozen=True)
class RoutineRun:
    """The three passes' figures and the escalation latencies."""

    passes: list[PassFigures]
    added_s: list[float]

    def to_json(self) -> dict[str, Any]:
        return {
            "passes": [f.to_json() for f in self.passes],
            "escalation_added_p95_s": p95(self.added_s),
            "escalations_timed": len(self.added_s),
            "note": HOSTED_NOTE,
        }


def measure(
    tasks: Sequence[Task],
    base_url: str,
    *,
    campaign: str,
    concurrency: int,
    headers: dict[str, str] | None = None,
    say: Callable[[str], None] | None = None,
) -> RoutineRun:
    """The three passes over `tasks` (see the module docstring)."""
    say = say or (lambda line: None)

    def progress(name: str) -> Callable[[int, int], None]:
        return lambda done, total: say(f"routine {name}: {done}/{total}") if done == total else None

    def one_pass(name: str, options_for: Callable[[Task], dict[str, Any] | None]) -> list:
        return run_pass(
            tasks, base_url, options_for, campaign=campaign, concurrency=concurrency,
            headers=headers, progress=progress(name),
        )  # fmt: skip

    policy = [o for o in one_pass("policy", lambda task: {}) if o is not None]
    by_id = {o.task.id: o for o in policy}

    def local_first(options: dict[str, Any]) -> Callable[[Task], dict[str, Any] | None]:
        """`options` for what the router calls simple; None (the policy pass's answer
        stands) for the other tiers."""
        return lambda task: options if by_id[task.id].tier == "simple" else None

    today_raw = one_pass("today", local_first({"model": LOCAL_MODEL}))
    checked_raw = one_pass("checked", local_first({"prefer": "cost"}))
    today = [o if o is not None else by_id[t.id] for t, o in zip(tasks, today_raw, strict=True)]
    checked = [o if o is not None else by_id[t.id] for t, o in zip(tasks, checked_raw, strict=True)]
    return RoutineRun(
        passes=[
            figures("today's policy (simple tier on the local model, unchecked)", today),
            figures("capability policy + check (as configured)", policy),
            figures("local model first for the simple tier + check (prefer=cost)", checked),
        ],
        added_s=escalation_added_s(checked),
    )

"""One measured run of `python -m bench`: one path (routed or direct) at one arrival rate.

Before the run the pipeline is left to drain what the previous one may have left in the
topics; then the open-loop load (bench/load.py), the CPU every process group spent and
its resident memory (bench/processes.py), and the lines the benchmark prints for it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from bench import processes
from bench.load import LoadResult, run_open_loop, sample_from
from bench.stats import Distribution, RateRun, nearest_rank_percentile
from harness.emulator_process import EmulatorControl

API = "/api/v1/strategist/analyze"
# Hosted routes only: the local model does real CPU inference and would dominate.
QUERIES = [
    "latest polls in Arizona this week",
    "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
    "What are the main arguments for expanding early voting?",
    "Who is leading the Pennsylvania Senate race right now?",
]
CAMPAIGNS = 7
DRAIN_TIMEOUT_S = 180.0
"""Longest wait for the pipeline to clear what an overloaded run left in its topics."""
DRAIN_OVERHEAD_MS = 500.0
"""A single query with less overhead than this means the backlog is gone."""
DRAIN_REQUEST_TIMEOUT_S = 40.0
DRAIN_PAUSE_S = 0.5


@dataclass(frozen=True)
class Stack:
    """What a run measures against: the apps, every process group, the emulator."""

    apps: dict[str, str]
    """Path name -> base URL."""
    groups: list[processes.Group]
    emulator: EmulatorControl


def body(i: int) -> dict[str, str]:
    """The `i`-th request body: the queries and campaigns in turn."""
    return {"query": QUERIES[i % len(QUERIES)], "campaign_id": f"bench-{i % CAMPAIGNS}"}


def load(url: str, rate: float, duration_s: float, headers: dict[str, str]) -> LoadResult:
    """`rate` analyses a second at `url` for `duration_s`, open loop."""
    return asyncio.run(
        run_open_loop(
            url=url + API, rate_qps=rate, duration_s=duration_s, body_for=body, headers=headers
        )
    )


def drain(url: str, headers: dict[str, str]) -> float:
    """Wait until a lone query goes through with little overhead; the seconds it took.

    An open-loop run beyond capacity leaves queries in the topics that the services
    still work through after their callers gave up (202); the next run must not
    inherit them.
    """
    started = time.monotonic()
    with httpx.Client(headers=headers, timeout=DRAIN_REQUEST_TIMEOUT_S) as client:
        while time.monotonic() - started < DRAIN_TIMEOUT_S:
            sent = time.perf_counter()
            try:
                response = client.post(url + API, json=body(0))
            except httpx.HTTPError:
                time.sleep(DRAIN_PAUSE_S)
                continue
            sample = sample_from(
                response.status_code,
                response.json() if response.status_code == 200 else None,
                (time.perf_counter() - sent) * 1000.0,
            )
            if (overhead := sample.overhead_ms) is not None and overhead < DRAIN_OVERHEAD_MS:
                break
            time.sleep(DRAIN_PAUSE_S)
    return time.monotonic() - started


def set_latency(emulator: EmulatorControl, scale: float) -> None:
    """The emulator's latency scale (0: answers at once; 1: realistic model latencies)."""
    httpx.put(
        f"{emulator.base_url}/_control/latency", json={"scale": scale}, timeout=5
    ).raise_for_status()


def measured_run(
    stack: Stack, path: str, rate: float, scale: float, duration_s: float, headers: dict[str, str]
) -> tuple[RateRun, LoadResult]:
    """Drain, then load `path` at `rate`: the run's figures and the raw load result."""
    drained_s = drain(stack.apps[path], headers)
    if drained_s > 1.0:
        print(f"[bench] waited {drained_s:.0f} s for the {path} pipeline to drain", flush=True)
    before = processes.cpu_seconds(stack.groups)
    result = load(stack.apps[path], rate, duration_s, headers)
    after = processes.cpu_seconds(stack.groups)
    answered = len(result.samples) - result.errors
    service = result.service_ms
    run = RateRun(
        path=path,
        rate_qps=rate,
        latency_scale=scale,
        sent=len(result.samples),
        errors=result.errors,
        achieved_qps=result.achieved_qps,
        overhead=Distribution.of(result.overheads_ms),
        provider_service_p50_ms=nearest_rank_percentile(service, 50) if service else None,
        cpu_ms_per_query=processes.cpu_ms_per_query(before, after, answered),
        rss_mb=processes.rss_mb(stack.groups),
    )
    return run, result


def print_run(run: RateRun, result: LoadResult) -> None:
    """The run's lines: overhead, provider service time, CPU per query, resident memory."""
    print("[bench] " + run.line(), flush=True)
    service = "-" if run.provider_service_p50_ms is None else f"{run.provider_service_p50_ms:.1f}"
    print(
        f"[bench]        provider service p50 {service} ms; generator max lag "
        f"{result.max_lag_ms:.1f} ms" + (f"; errors {result.error_kinds()}" if run.errors else "")
    )
    cpu = run.cpu_ms_per_query
    stack_cpu = processes.stack_total(cpu)
    print(
        f"[bench]        CPU ms/query: stack {stack_cpu:.2f} = "
        + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if k not in processes.NOT_STACK)
        + "; not stack: "
        + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items() if k in processes.NOT_STACK)
    )
    print("[bench]        RSS MiB: " + ", ".join(f"{k} {v:.0f}" for k, v in run.rss_mb.items()))

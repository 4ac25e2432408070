"""Pipeline overhead and capacity benchmark: routed path vs direct path, in one run.

Starts its own emulator, the services (classifier, dispatcher, scorer, health,
recorder) and two apps (routing on / routing off) in a fresh topic namespace on the
broker, Redis and PostgreSQL that `make bench` provides. After a warm-up it sends
`POST /api/v1/strategist/analyze` at fixed arrival rates (open loop: bench/load.py says
why) to the direct app, then to the routed app, at each rate and each emulator latency
scale (0: the provider answers at once, so every millisecond is ours; 1: realistic
model latencies, about a second, so hundreds of queries are in flight).

Overhead is each request's time minus the provider's own service time, which the
provider states per call in a response header (the emulator's `x-emulator-service-ms`,
summed by the pipeline into `routing.provider_service_ms`), so the busy dispatcher's
queueing counts as ours, as it should. Per run it prints overhead p50/p95/p99/max,
errors (anything but a completed 200 answer, including 202 "still running"), the rate
achieved, CPU milliseconds per query of every process and resident memory at the end
(bench/processes.py). `--profile` samples every Python process with py-spy during an
extra routed run (`--profile-rate`, default 100/s), zero latency (bench/profile.py;
files in var/bench/). Before each run the pipeline is left to drain what the previous
one may have left in the topics.

The last line is one JSON object: `routed_overhead_p50_ms`, `routed_overhead_p99_ms`,
`direct_overhead_p50_ms`, `direct_overhead_p99_ms` (the run closest to 100/s at zero
latency; `reference_rate_qps` says which), `max_sustained_qps` (highest routed rate with
p99 overhead under 50 ms and no error at latency scale 1; null when not measured),
`rss_mb_total` (the stack with one app: services, broker, Redis, PostgreSQL; shared pages
counted in every process that maps them), `pss_mb_total` (the same, each shared page
counted once: what the machine holds), `machine`
and every run. Requests carry an admin key made here in DATABASE_URL; its rate limit is
far above the benchmark's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bench import processes
from bench.load import LoadResult, run_open_loop, sample_from
from bench.profile import Recording
from bench.stack import stack_env
from bench.stats import Distribution, RateRun, percentile, summary
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.settings import InfraSettings
from strategist.keys import issue_key
from tests.support.emulator_process import EmulatorControl, running_emulator
from tests.support.kafka import delete_namespace
from tests.support.processes import (
    REPO_ROOT,
    STOP_TIMEOUT_S,
    ManagedProcess,
    free_port,
    gunicorn_app,
    python_module,
    unique_namespace,
)

API = "/api/v1/strategist/analyze"
# Hosted routes only: the local model does real CPU inference and would dominate.
QUERIES = [
    "latest polls in Arizona this week",
    "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs",
    "What are the main arguments for expanding early voting?",
    "Who is leading the Pennsylvania Senate race right now?",
]
CAMPAIGNS = 7
READY_TIMEOUT_S = 90.0
KEY_RATE_PER_MINUTE = 10_000_000
DEFAULT_RATES = (50.0, 100.0, 200.0, 300.0, 400.0)
DEFAULT_DURATION_S = 30.0
DEFAULT_LATENCIES = (0.0, 1.0)
DEFAULT_WARMUP_S = 10.0
WARMUP_RATE_QPS = 20.0
PROFILE_RATE_QPS = 100.0
SERVICES = ("classifier", "dispatcher", "scorer", "health", "recorder")
APP_WORKERS = 2
APP_THREADS = 320
"""Per worker: 400/s at about a second each is some 500 requests waiting at once."""
SYNC_WAIT_LIMIT = 300
"""Per worker, below its threads (so /healthz still answers); more would get 202."""
DISPATCHER_MAX_IN_FLIGHT = 2048
PROFILE_DIR = REPO_ROOT / "var" / "bench"
DRAIN_TIMEOUT_S = 180.0
"""Longest wait for the pipeline to clear what an overloaded run left in its topics."""
DRAIN_OVERHEAD_MS = 500.0
"""A single query with less overhead than this means the backlog is gone."""
DRAIN_REQUEST_TIMEOUT_S = 40.0
DRAIN_PAUSE_S = 0.5


@dataclass(frozen=True)
class Stack:
    apps: dict[str, str]
    """Path name -> base URL."""
    groups: list[processes.Group]
    emulator: EmulatorControl


def _ready(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200


def _body(i: int) -> dict[str, str]:
    return {"query": QUERIES[i % len(QUERIES)], "campaign_id": f"bench-{i % CAMPAIGNS}"}


def machine() -> str:
    memory_gib = psutil.virtual_memory().total / 1024**3
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cores {memory_gib:.1f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


@contextlib.contextmanager
def _stack(namespace: str, database_url: str, dispatchers: int = 1) -> Iterator[Stack]:
    """Emulator, services and both apps, up and ready; stopped when the block ends."""
    with running_emulator(latency_scale=0.0) as emulator:
        env = stack_env(
            namespace,
            emulator.base_url,
            database_url,
            STRATEGIST_SYNC_WAIT_LIMIT=str(SYNC_WAIT_LIMIT),
            DISPATCHER_MAX_IN_FLIGHT=str(DISPATCHER_MAX_IN_FLIGHT),
        )
        ports = {"direct": free_port(), "routed": free_port()}
        services = [python_module(s, f"services.{s}", env) for s in SERVICES]
        services += [  # more dispatcher instances share its consumer group's partitions
            python_module(f"dispatcher#{n}", "services.dispatcher", env)
            for n in range(2, dispatchers + 1)
        ]
        apps = {
            "routed": gunicorn_app(
                "app-routed", env, ports["routed"], workers=APP_WORKERS, threads=APP_THREADS
            ),
            "direct": gunicorn_app(
                "app-direct",
                {**env, "STRATEGIST_ROUTING__ENABLED": "false"},
                ports["direct"],
                workers=APP_WORKERS,
                threads=APP_THREADS,
            ),
        }
        with _running_together(*services, *apps.values()):
            started = time.monotonic()
            for path, app in apps.items():
                app.wait_until(functools.partial(_ready, ports[path]), READY_TIMEOUT_S, "/readyz")
            print(f"[bench] stack ready in {time.monotonic() - started:.1f} s", flush=True)
            groups = [
                *(processes.Group(f"app-{path}", _pid(app)) for path, app in apps.items()),
                *(processes.Group(s.name, _pid(s)) for s in services),
                *processes.infrastructure(Path(os.environ.get("VAR_DIR", REPO_ROOT / "var"))),
                processes.Group("emulator", _emulator_pid(emulator)),
                processes.load_generator(),
            ]
            yield Stack(
                apps={path: f"http://127.0.0.1:{port}" for path, port in ports.items()},
                groups=groups,
                emulator=emulator,
            )


@contextlib.contextmanager
def _running_together(*started: ManagedProcess) -> Iterator[None]:
    """Start all; at the end stop all at once (each drains for seconds: not one by one)."""
    try:
        for process in started:
            process.start()
        yield
    finally:
        live = [p for p in started if p.proc is not None and p.alive()]
        for process in live:
            assert process.proc is not None
            process.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in live:
            assert process.proc is not None
            try:
                process.proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()


def _pid(process: ManagedProcess) -> int:
    assert process.proc is not None, f"{process.name} was not started"
    return process.proc.pid


def _emulator_pid(emulator: EmulatorControl) -> int:
    port = int(emulator.base_url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            return int(conn.pid or 0)
    return 0


def _load(url: str, rate: float, duration_s: float, headers: dict[str, str]) -> LoadResult:
    return asyncio.run(
        run_open_loop(
            url=url + API, rate_qps=rate, duration_s=duration_s, body_for=_body, headers=headers
        )
    )


def _drain(url: str, headers: dict[str, str]) -> float:
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
                response = client.post(url + API, json=_body(0))
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


def _set_latency(emulator: EmulatorControl, scale: float) -> None:
    httpx.put(
        f"{emulator.base_url}/_control/latency", json={"scale": scale}, timeout=5
    ).raise_for_status()


def _measured(
    stack: Stack, path: str, rate: float, scale: float, duration_s: float, headers: dict[str, str]
) -> tuple[RateRun, LoadResult]:
    drained_s = _drain(stack.apps[path], headers)
    if drained_s > 1.0:
        print(f"[bench] waited {drained_s:.0f} s for the {path} pipeline to drain", flush=True)
    before = processes.cpu_seconds(stack.groups)
    result = _load(stack.apps[path], rate, duration_s, headers)
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
        provider_service_p50_ms=percentile(service, 50) if service else None,
        cpu_ms_per_query=processes.cpu_ms_per_query(before, after, answered),
        rss_mb=processes.rss_mb(stack.groups),
    )
    return run, result


def _print_run(run: RateRun, result: LoadResult) -> None:
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


def _profile(stack: Stack, headers: dict[str, str], rate: float, duration_s: float) -> None:
    """A routed run at `rate`, zero latency, with every Python process sampled."""
    _set_latency(stack.emulator, 0.0)
    _drain(stack.apps["routed"], headers)
    python_groups = [
        g for g in stack.groups if g.name.startswith("app-routed") or g.name in SERVICES
    ]
    recording = Recording(python_groups, PROFILE_DIR, duration_s).start()
    result = _load(stack.apps["routed"], rate, duration_s, headers)
    answered = len(result.samples) - result.errors
    print(
        f"[bench] profile: routed {rate:g}/s, {answered} answered, {result.errors} errors, "
        f"files in {PROFILE_DIR}"
    )
    for profile in recording.finish():
        text = profile.text(answered)
        print(text)
        (PROFILE_DIR / f"{profile.name}.top.txt").write_text(text + "\n")


def _measure(args: argparse.Namespace, namespace: str, database_url: str) -> dict[str, object]:
    headers = issue_key(
        database_url, "bench", role="admin", rate_per_minute=KEY_RATE_PER_MINUTE
    ).header
    runs: list[RateRun] = []
    with _stack(namespace, database_url, args.dispatchers) as stack:
        # Warm-up: consumer group assignment, connections, first-call costs.
        for url in stack.apps.values():
            _load(url, WARMUP_RATE_QPS, args.warmup, headers)
        for scale in args.latency:
            _set_latency(stack.emulator, scale)
            for rate in args.rates:
                for path in ("direct", "routed"):
                    run, result = _measured(stack, path, rate, scale, args.duration, headers)
                    _print_run(run, result)
                    runs.append(run)
        if args.profile:
            _profile(stack, headers, args.profile_rate, args.duration)
        stack_rss = {
            k: v for k, v in processes.rss_mb(stack.groups).items() if k != "app-direct"
        }
        stack_pss = {
            k: v for k, v in processes.pss_mb(stack.groups).items() if k != "app-direct"
        }
    print("[bench] PSS MiB at the end: " + ", ".join(f"{k} {v:.0f}" for k, v in stack_pss.items()))
    return summary(
        runs,
        rss_mb_total=processes.stack_total(stack_rss),
        pss_mb_total=processes.stack_total(stack_pss),
        machine=machine(),
        sustained_latency_scale=max(args.latency),
    )


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text}") from err
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"need non-negative numbers: {text}")
    return values


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--rates", type=_floats, default=list(DEFAULT_RATES),
                        help="arrival rates in queries per second (default 50,100,200,300,400)")
    parser.add_argument("--duration", type=float, default=DEFAULT_DURATION_S,
                        help="seconds per rate and path (default 30)")
    parser.add_argument("--latency", type=_floats, default=list(DEFAULT_LATENCIES),
                        help="emulator latency scales (default 0,1)")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP_S,
                        help=f"seconds of warm-up per path at {WARMUP_RATE_QPS:g}/s")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy every Python process in an extra routed run")
    parser.add_argument("--profile-rate", type=float, default=PROFILE_RATE_QPS,
                        help=f"arrival rate of the profiled run (default {PROFILE_RATE_QPS:g})")
    parser.add_argument("--dispatchers", type=int, default=1,
                        help="dispatcher instances (the scaling measurement in "
                             "docs/performance.md; default 1)")
    args = parser.parse_args(argv)  # fmt: skip
    if any(rate <= 0 for rate in args.rates):
        parser.error("--rates must be positive")
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        parser.error("DATABASE_URL is not set (API keys live in PostgreSQL; make bench sets it)")

    namespace = unique_namespace("bench")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    create_topics(bootstrap, TopicNames(namespace).specs(), security=InfraSettings().kafka_security)
    print(f"[bench] machine: {machine()}; namespace {namespace}")
    print(
        f"[bench] rates {args.rates} q/s, {args.duration:g} s each, latency scales "
        f"{args.latency}; app {APP_WORKERS} workers x {APP_THREADS} threads", flush=True
    )
    try:
        report = _measure(args, namespace, database_url)
    finally:
        delete_namespace(bootstrap, os.environ.get("REDIS_URL"), namespace)
    print(json.dumps(report, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

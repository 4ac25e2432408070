"""Pipeline overhead benchmark: routed path vs legacy direct path, in one run.

Starts its own emulator (zero latency), the four services and two app processes
(routing on / routing off) in a fresh topic namespace on the broker and Redis
that `make bench` provides, pushes the same queries through both, and prints the
overhead each path adds on top of provider time (request-to-response minus the
provider latency reported in `routing.provider_latency_ms`) and throughput. The
requests carry an admin API key made here in DATABASE_URL (it names each request's
campaign; its rate is far above the benchmark's, so the limit is not measured).
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.stats import RunSummary, percentile
from schemas.topics import TopicNames
from services.common.admin import create_topics
from strategist.keys import issue_key
from tests.support.emulator_process import running_emulator
from tests.support.kafka import delete_namespace
from tests.support.processes import (
    ManagedProcess,
    free_port,
    gunicorn_app,
    infra_env,
    python_module,
    running,
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
READY_TIMEOUT_S = 60.0
KEY_RATE_PER_MINUTE = 10_000_000


def _app(name: str, env: dict[str, str], port: int) -> ManagedProcess:
    return gunicorn_app(name, env, port, threads=16)


def _ready(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200


def _run(
    name: str, base_url: str, requests: int, concurrency: int, headers: dict[str, str]
) -> RunSummary:
    overhead, total, failures = [], [], 0

    def one(i: int) -> None:
        nonlocal failures
        with httpx.Client(base_url=base_url, timeout=60, headers=headers) as client:
            started = time.perf_counter()
            response = client.post(
                API, json={"query": QUERIES[i % len(QUERIES)], "campaign_id": f"bench-{i % 7}"}
            )
            elapsed_ms = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            failures += 1
            return
        provider_ms = response.json()["routing"]["provider_latency_ms"]
        total.append(elapsed_ms)
        overhead.append(max(elapsed_ms - provider_ms, 0.0))

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    return RunSummary(name, requests, failures, time.perf_counter() - started, overhead, total)


def _measure(args: argparse.Namespace, namespace: str, database_url: str) -> list[RunSummary]:
    """Both paths through one stack in `namespace`: direct first, then routed."""
    headers = issue_key(
        database_url, "bench", role="admin", rate_per_minute=KEY_RATE_PER_MINUTE
    ).header
    with running_emulator(latency_scale=0.0) as emulator:
        env = infra_env(
            namespace,
            EMULATOR_URL=emulator.base_url,
            LOCAL_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1",
            LOG_LEVEL="WARNING",
            DATABASE_URL=database_url,
        )
        routed_port, direct_port = free_port(), free_port()
        services = [
            python_module(s, f"services.{s}", env) for s in ("classifier", "dispatcher", "scorer")
        ]
        routed = _app("app-routed", env, routed_port)
        direct = _app("app-direct", {**env, "STRATEGIST_ROUTING__ENABLED": "false"}, direct_port)
        with running(*services, routed, direct):
            for app, port in ((routed, routed_port), (direct, direct_port)):
                app.wait_until(
                    functools.partial(_ready, port),
                    READY_TIMEOUT_S,
                    "/readyz",
                )
            # Warm-up: consumer group assignment, connections, first-call costs.
            _run("warm-up", f"http://127.0.0.1:{routed_port}", 20, 4, headers)
            _run("warm-up", f"http://127.0.0.1:{direct_port}", 20, 4, headers)
            print(
                f"[bench] {args.requests} requests per path, {args.concurrency} concurrent "
                "clients, emulator latency 0"
            )
            return [
                _run(
                    "direct",
                    f"http://127.0.0.1:{direct_port}",
                    args.requests,
                    args.concurrency,
                    headers,
                ),
                _run(
                    "routed",
                    f"http://127.0.0.1:{routed_port}",
                    args.requests,
                    args.concurrency,
                    headers,
                ),
            ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        parser.error("DATABASE_URL is not set (API keys live in PostgreSQL; make bench sets it)")

    namespace = unique_namespace("bench")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    create_topics(bootstrap, TopicNames(namespace).specs())
    print(
        f"[bench] machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; namespace {namespace}"
    )

    try:
        results = _measure(args, namespace, database_url)
    finally:
        delete_namespace(bootstrap, os.environ.get("REDIS_URL"), namespace)
    for result in results:
        print("[bench] " + result.line())
    direct_result, routed_result = results
    if direct_result.overhead_ms and routed_result.overhead_ms:
        routed_p50 = percentile(routed_result.overhead_ms, 50)
        direct_p50 = max(percentile(direct_result.overhead_ms, 50), 0.001)
        throughput_ratio = routed_result.throughput / max(direct_result.throughput, 0.001)
        print(
            f"[bench] routed/direct: overhead p50 {routed_p50 / direct_p50:.1f}x, "
            f"throughput {throughput_ratio:.2f}x"
        )
    return 0 if all(r.failures == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

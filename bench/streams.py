"""Many open event streams and slow clients against one app instance: does it keep answering?

`python -m bench.streams --server asgi` (or `gthread`, the thread-per-connection model)
starts the emulator and one app (one worker process), no pipeline services, in a fresh
namespace on the broker, Redis and PostgreSQL that `make` provides. It then:

1. times `GET /healthz` and a normal `POST /analyze` (answered by the direct path at the
   emulator) unloaded;
2. opens `--streams` event streams (`GET /api/v1/strategist/analyses/<id>/events` of an
   analysis that stays pending: no dispatcher runs) and `--slowloris` sockets that send
   one header line every few seconds and never finish their request;
3. times `/healthz` and `/analyze` again while all of them are open, and reads the app's
   memory before and after the streams opened.

It prints one line per figure and ends with one JSON line (`--format json`: only that).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psutil

from bench.stack import KEY_RATE_PER_MINUTE, stack_env
from bench.stats import nearest_rank_percentile
from harness.emulator_process import running_emulator
from harness.kafka import delete_namespace
from harness.processes import free_port, gunicorn_app, running, unique_namespace
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.settings import InfraSettings
from strategist.analysis.rollout import rollout_decision
from strategist.auth.keys import issue_key
from strategist.settings import RoutingSettings

ROLLOUT_PERCENT = 50
PROBES = 100
ANALYZE_PROBES = 10
TRICKLE_S = 5.0
CONNECT_TIMEOUT_S = 10.0
PROBE_TIMEOUT_S = 15.0
GIVE_UP_AFTER = 3
"""Refused or unanswered streams after which no more are opened."""
READY_TIMEOUT_S = 90.0


def campaign(routed: bool) -> str:
    """A campaign id the rollout routes (its analyses wait on the pipeline) or not (the
    direct path answers them)."""
    settings = RoutingSettings(enabled=True, rollout_percent=ROLLOUT_PERCENT)
    for n in range(1000):
        name = f"bench-{n}"
        if rollout_decision(settings, name).routed == routed:
            return name
    raise RuntimeError("no campaign found")


def open_stream(port: int, path: str, key: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    head = sock.recv(4096)
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"stream refused: {head[:200]!r}")
    return sock


def slowloris(port: int, stop: threading.Event, opened: list[socket.socket]) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT_S)
    opened.append(sock)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    n = 0
    while not stop.wait(TRICKLE_S):
        n += 1
        with contextlib.suppress(OSError):
            sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())


def timed(client: httpx.Client, method: str, url: str, count: int, **kw: Any) -> list[float]:
    """Milliseconds per request; a failure or timeout counts as infinite, and after
    `GIVE_UP_AFTER` of them the rest are not sent (counted as failed too)."""
    times: list[float] = []
    for _ in range(count):
        if times.count(float("inf")) >= GIVE_UP_AFTER:
            times.append(float("inf"))
            continue
        began = time.perf_counter()
        try:
            client.request(method, url, timeout=PROBE_TIMEOUT_S, **kw).raise_for_status()
            times.append((time.perf_counter() - began) * 1000.0)
        except httpx.HTTPError:
            times.append(float("inf"))
    return times


def p(values: list[float], q: float) -> float | None:
    """The percentile in ms; None when it is a failure (a timeout or refusal)."""
    value = nearest_rank_percentile(sorted(values), q)
    return None if value == float("inf") else round(value, 1)


def _ratio(loaded: float | None, idle: float | None) -> float | None:
    return None if loaded is None or not idle else round(loaded / idle, 2)


def app_rss_mb(pid: int) -> float:
    parent = psutil.Process(pid)
    return round(sum(c.memory_info().rss for c in parent.children(recursive=True)) / 2**20, 1)


@contextlib.contextmanager
def app_stack(server: str) -> Iterator[tuple[int, str, int]]:
    namespace = unique_namespace("bench-streams")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    database_url = os.environ["DATABASE_URL"]
    create_topics(bootstrap, TopicNames(namespace).specs(), security=InfraSettings().kafka_security)
    key = issue_key(database_url, "bench-streams", role="admin",
                    rate_per_minute=KEY_RATE_PER_MINUTE)  # fmt: skip
    port = free_port()
    try:
        with running_emulator(latency_scale=0.0) as emulator:
            env = stack_env(namespace, emulator.base_url, database_url,
                            STRATEGIST_ROUTING__ROLLOUT_PERCENT=str(ROLLOUT_PERCENT))  # fmt: skip
            app = gunicorn_app("app", env, port, workers=1, threads=16, server=server)
            with running(app):
                app.wait_until(
                    lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).is_success,
                    READY_TIMEOUT_S, "/readyz",
                )  # fmt: skip
                assert app.proc is not None
                yield port, key.key, app.proc.pid
    finally:
        delete_namespace(bootstrap, os.environ.get("REDIS_URL"), namespace)


def measure(server: str, streams: int, slow: int) -> dict[str, Any]:
    with app_stack(server) as (port, key, pid):
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {key}"}
        analyze = {"query": "Two sentences on early voting.", "campaign_id": campaign(False)}
        with httpx.Client(base_url=base, headers=headers, timeout=60.0) as client:
            timed(client, "POST", "/api/v1/strategist/analyze", 3, json=analyze)  # warm up
            health_idle = timed(client, "GET", "/healthz", PROBES)
            analyze_idle = timed(client, "POST", "/api/v1/strategist/analyze", ANALYZE_PROBES,
                                 json=analyze)  # fmt: skip
            pending = client.post("/api/v1/strategist/analyses", json={
                "query": "A question nobody dispatches", "campaign_id": campaign(True)}).json()
            rss_before = app_rss_mb(pid)
            path = f"{pending['status_url']}/events"
            opened: list[socket.socket] = []
            stop = threading.Event()
            began = time.perf_counter()
            failures = opened_ok = 0
            try:
                for _ in range(streams):
                    if failures >= GIVE_UP_AFTER:  # the server stopped answering: stop trying
                        break
                    try:
                        opened.append(open_stream(port, path, key))
                    except (OSError, RuntimeError):
                        failures += 1
                open_s = time.perf_counter() - began
                opened_ok = len(opened)
                trickling = [threading.Thread(target=slowloris, args=(port, stop, opened),
                                              daemon=True) for _ in range(slow)]  # fmt: skip
                for thread in trickling:
                    thread.start()
                time.sleep(2.0)
                rss_after = app_rss_mb(pid)
                health_loaded = timed(client, "GET", "/healthz", PROBES)
                analyze_loaded = timed(client, "POST", "/api/v1/strategist/analyze",
                                       ANALYZE_PROBES, json=analyze)  # fmt: skip
            finally:
                stop.set()
                for sock in opened:
                    with contextlib.suppress(OSError):
                        sock.close()
    return {
        "server": server,
        "streams_requested": streams,
        "streams_open": opened_ok,
        "streams_open_s": round(open_s, 2),
        "slowloris_sockets": slow,
        "healthz_idle_p50_ms": p(health_idle, 50), "healthz_idle_p99_ms": p(health_idle, 99),
        "healthz_loaded_p50_ms": p(health_loaded, 50),
        "healthz_loaded_p99_ms": p(health_loaded, 99),
        "analyze_idle_p99_ms": p(analyze_idle, 99),
        "analyze_loaded_p99_ms": p(analyze_loaded, 99),
        "analyze_p99_ratio": _ratio(p(analyze_loaded, 99), p(analyze_idle, 99)),
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "kb_per_stream": round((rss_after - rss_before) * 1024 / max(opened_ok, 1), 1),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--server", choices=["asgi", "gthread"], default="asgi")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--slowloris", type=int, default=300)
    parser.add_argument("--format", choices=["text", "json"], default="text")
    args = parser.parse_args(argv)
    figures = measure(args.server, args.streams, args.slowloris)
    if args.format == "text":
        for name, value in figures.items():
            print(f"[streams] {name:24s} {value}", file=sys.stderr)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

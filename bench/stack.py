"""The stack a measuring script runs against: emulator, services and apps, in one namespace.

On the broker, Redis and PostgreSQL that `make` provides (KAFKA_BOOTSTRAP_SERVERS,
REDIS_URL, DATABASE_URL). One start-up for every script: `running_stack` starts the
services and the apps at once, waits until every app answers `/readyz`, and at the end
stops them all together (each drains for seconds: not one by one). `measured_stack`
adds what a one-app script needs around it (the namespace, its topics and an admin key,
the emulator); `python -m bench` runs two apps, one of them without routing.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import httpx

from harness.emulator_process import EmulatorControl, running_emulator
from harness.kafka import delete_namespace
from harness.processes import (
    STOP_TIMEOUT_S,
    ManagedProcess,
    free_port,
    gunicorn_app,
    infra_env,
    python_module,
    unique_namespace,
)
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.settings import InfraSettings
from strategist.auth.keys import issue_key

SERVICES = ("classifier", "dispatcher", "scorer", "health")
READY_TIMEOUT_S = 90.0
READY_POLL_TIMEOUT_S = 2.0
KEY_RATE_PER_MINUTE = 10_000_000
"""The admin key's rate: far above any measurement's, so the limit is not measured."""
APP_WORKERS = 2
APP_THREADS = 16


@dataclass(frozen=True)
class AppSpec:
    """One app of the stack: its process name and what its environment adds."""

    name: str
    env: Mapping[str, str]
    workers: int = APP_WORKERS
    threads: int = APP_THREADS


@dataclass(frozen=True)
class RunningStack:
    """The started processes, each app's base URL by path, and how long start-up took."""

    urls: dict[str, str]
    apps: dict[str, ManagedProcess]
    services: list[ManagedProcess]
    ready_s: float


@dataclass(frozen=True)
class MeasuredStack:
    app_url: str
    api_key: str
    emulator: EmulatorControl

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@contextlib.contextmanager
def running_stack(
    env: Mapping[str, str],
    apps: Mapping[str, AppSpec],
    *,
    services: Sequence[str] = SERVICES,
    dispatchers: int = 1,
) -> Iterator[RunningStack]:
    """`services` (and `dispatchers` - 1 more dispatcher instances, sharing its consumer
    group's partitions) and one app per path of `apps`, up and ready; stopped when the
    block ends."""
    ports = {path: free_port() for path in apps}
    started = [python_module(s, f"services.{s}", dict(env)) for s in services]
    started += [
        python_module(f"dispatcher#{n}", "services.dispatcher", dict(env))
        for n in range(2, dispatchers + 1)
    ]
    processes = {
        path: gunicorn_app(
            app.name, {**env, **app.env}, ports[path], workers=app.workers, threads=app.threads
        )
        for path, app in apps.items()
    }
    with _running_together(*started, *processes.values()):
        began = time.monotonic()
        for path, process in processes.items():
            url = f"http://127.0.0.1:{ports[path]}"
            process.wait_until(functools.partial(_ready, url), READY_TIMEOUT_S, "/readyz")
        yield RunningStack(
            urls={path: f"http://127.0.0.1:{port}" for path, port in ports.items()},
            apps=processes,
            services=started,
            ready_s=time.monotonic() - began,
        )


@contextlib.contextmanager
def measured_stack(
    prefix: str, database_url: str, *, latency_scale: float
) -> Iterator[MeasuredStack]:
    """The stack with one app, ready (`/readyz`), with an admin key made in `database_url`."""
    namespace = unique_namespace(prefix)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    create_topics(bootstrap, TopicNames(namespace).specs(), security=InfraSettings().kafka_security)
    key = issue_key(database_url, prefix, role="admin", rate_per_minute=KEY_RATE_PER_MINUTE)
    try:
        with running_emulator(latency_scale=latency_scale) as emulator:
            env = stack_env(namespace, emulator.base_url, database_url)
            with running_stack(env, {"app": AppSpec("app", {})}) as stack:
                yield MeasuredStack(stack.urls["app"], key.key, emulator)
    finally:
        delete_namespace(bootstrap, os.environ.get("REDIS_URL"), namespace)


def stack_env(namespace: str, emulator_url: str, database_url: str, **extra: str) -> dict[str, str]:
    """The environment every process of a measured stack runs with: the namespace's
    infrastructure, hosted providers at the emulator, a local model nobody serves (no
    measured question is routed to it), quiet logs; `extra` on top."""
    return infra_env(
        namespace,
        EMULATOR_URL=emulator_url,
        LOCAL_MODEL_URL=f"http://127.0.0.1:{free_port()}/v1",
        LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
        **extra,
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


def _ready(app_url: str) -> bool:
    return httpx.get(f"{app_url}/readyz", timeout=READY_POLL_TIMEOUT_S).status_code == 200

"""One stack for a measuring script: emulator, services and one app in a fresh namespace.

On the broker, Redis and PostgreSQL that `make` provides (KAFKA_BOOTSTRAP_SERVERS,
REDIS_URL, DATABASE_URL). Everything is stopped, and the namespace's topics and keys
deleted, when the block ends. `python -m bench` runs two apps and is built on its own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.settings import InfraSettings
from strategist.keys import issue_key
from tests.support.emulator_process import EmulatorControl, running_emulator
from tests.support.kafka import delete_namespace
from tests.support.processes import (
    free_port,
    gunicorn_app,
    infra_env,
    python_module,
    running,
    unique_namespace,
)

SERVICES = ("classifier", "dispatcher", "scorer", "health")
READY_TIMEOUT_S = 90.0
READY_POLL_TIMEOUT_S = 2.0
KEY_RATE_PER_MINUTE = 10_000_000
"""The admin key's rate: far above any measurement's, so the limit is not measured."""
APP_THREADS = 16


@dataclass(frozen=True)
class MeasuredStack:
    app_url: str
    api_key: str
    emulator: EmulatorControl

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@contextlib.contextmanager
def measured_stack(
    prefix: str, database_url: str, *, latency_scale: float
) -> Iterator[MeasuredStack]:
    """The stack, ready (`/readyz`), with an admin key made in `database_url`."""
    namespace = unique_namespace(prefix)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    create_topics(bootstrap, TopicNames(namespace).specs(), security=InfraSettings().kafka_security)
    key = issue_key(database_url, prefix, role="admin", rate_per_minute=KEY_RATE_PER_MINUTE)
    try:
        with running_emulator(latency_scale=latency_scale) as emulator:
            env = stack_env(namespace, emulator.base_url, database_url)
            port = free_port()
            app_url = f"http://127.0.0.1:{port}"
            services = [python_module(name, f"services.{name}", env) for name in SERVICES]
            app = gunicorn_app("app", env, port, threads=APP_THREADS)
            with running(*services, app):
                app.wait_until(lambda: _ready(app_url), READY_TIMEOUT_S, "/readyz")
                yield MeasuredStack(app_url, key.key, emulator)
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


def _ready(app_url: str) -> bool:
    return httpx.get(f"{app_url}/readyz", timeout=READY_POLL_TIMEOUT_S).status_code == 200

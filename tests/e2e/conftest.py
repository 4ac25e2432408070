"""Fixtures for the end-to-end tests: the whole stack, driven through the HTTP API.

Session-scoped: the provider emulator and the local model server (slow to load),
which know nothing of topics. Per test module: `stack_factory` starts a fresh
topic namespace with the four services and the app under gunicorn. Without a
reachable broker, Redis or PostgreSQL (API keys) the tests skip with a message (and
fail under CI), through the shared `kafka_bootstrap` / `redis_url` / `database_url`
fixtures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from harness.emulator_process import EmulatorControl, running_emulator
from tests.e2e.stack import Stack, StackFactory, running_stack
from tests.support.local_model_server import running_local_model_server

EMULATOR_LATENCY_SCALE = 0.25
"""Realistic shapes, quicker runs: a Gemini 2.5 Pro answer takes about 0.4 s."""


@pytest.fixture(scope="session")
def emulator(kafka_bootstrap: str, redis_url: str) -> Iterator[EmulatorControl]:
    with running_emulator(latency_scale=EMULATOR_LATENCY_SCALE) as control:
        yield control


@pytest.fixture(scope="session")
def local_model_url(kafka_bootstrap: str, redis_url: str) -> Iterator[str]:
    with running_local_model_server() as url:
        yield url


@pytest.fixture(scope="session")
def stack_factory(
    kafka_bootstrap: str,
    redis_url: str,
    database_url: str,
    emulator: EmulatorControl,
    local_model_url: str,
) -> StackFactory:
    """`with stack_factory(apps={"name": {ENV: value}}) as stack:` in a fresh namespace."""

    def start(
        apps: dict[str, dict[str, str]] | None = None,
        extra_services: tuple[str, ...] = (),
    ) -> contextlib.AbstractContextManager[Stack]:
        return running_stack(
            bootstrap=kafka_bootstrap,
            redis_url=redis_url,
            database_url=database_url,
            emulator=emulator,
            local_model_url=local_model_url,
            apps=apps,
            extra_services=extra_services,
        )

    return start

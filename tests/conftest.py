"""Session fixtures for the real broker and Redis shared by integration and e2e tests.

Tests use the broker at KAFKA_BOOTSTRAP_SERVERS, Redis at REDIS_URL and PostgreSQL at
DATABASE_URL (`make test` starts all three). Where one is not reachable, a developer
without it gets a clear skip; under CI (env CI set) that is a failure instead, so CI
never skips broker tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import psycopg
import pytest
import redis
from confluent_kafka.admin import AdminClient

from harness.kafka import delete_namespace
from harness.processes import CREATED_NAMESPACES
from services.common.kafka_security import KafkaSecurity
from services.common.settings import DEFAULT_BOOTSTRAP_SERVERS, DEFAULT_REDIS_URL, InfraSettings

REACHABILITY_TIMEOUT_S = 5.0


def _unavailable(what: str, detail: str) -> None:
    message = (
        f"{what} unreachable ({detail}); run `make test`, which starts Kafka, Redis and "
        "PostgreSQL, or set KAFKA_BOOTSTRAP_SERVERS / REDIS_URL / DATABASE_URL"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _reachable(bootstrap: str) -> str | None:
    """None when the broker answers, else the reason it did not."""
    try:
        AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=REACHABILITY_TIMEOUT_S)
    except Exception as err:
        return str(err)
    return None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The configured broker; else, for users with Docker, one started by testcontainers."""
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    bootstrap = given or DEFAULT_BOOTSTRAP_SERVERS
    problem = _reachable(bootstrap)
    if problem is None:
        yield bootstrap
        return
    if given is None and shutil.which("docker"):
        try:
            from testcontainers.kafka import KafkaContainer  # optional extra: '.[docker]'
        except ImportError:
            KafkaContainer = None  # noqa: N806
        if KafkaContainer is not None:
            with KafkaContainer().with_kraft() as container:
                os.environ["KAFKA_BOOTSTRAP_SERVERS"] = container.get_bootstrap_server()
                yield container.get_bootstrap_server()
                return
    _unavailable(f"Kafka at {bootstrap}", problem)


@pytest.fixture(scope="session")
def kafka_security() -> KafkaSecurity:
    """The Kafka security of the test settings (`KAFKA_SECURITY_PROTOCOL`, ...; PLAINTEXT
    for the local broker), handed to every config builder as a service's `__main__` does."""
    return InfraSettings().kafka_security


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    try:
        redis.Redis.from_url(url, socket_timeout=REACHABILITY_TIMEOUT_S).ping()
    except Exception as err:
        _unavailable(f"Redis at {url}", str(err))
    return url


@pytest.fixture(scope="session")
def database_url() -> str:
    """The PostgreSQL at DATABASE_URL (`make test` starts one and exports it)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        _unavailable("PostgreSQL", "DATABASE_URL is not set")
        raise AssertionError("unreachable")  # _unavailable skips or fails
    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1),
                             connect_timeout=int(REACHABILITY_TIMEOUT_S)) as connection:
            connection.execute("SELECT 1")
    except Exception as err:
        _unavailable("PostgreSQL at DATABASE_URL", type(err).__name__)
    return url


@pytest.fixture(scope="session", autouse=True)
def _delete_test_namespaces() -> Iterator[None]:
    """At the end of the session, delete the topics, consumer groups and Redis keys of
    every namespace a test created (tests that clean up themselves leave nothing here)."""
    yield
    if not CREATED_NAMESPACES:
        return
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP_SERVERS)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    if _reachable(bootstrap) is not None:
        return
    for namespace in sorted(CREATED_NAMESPACES):
        with contextlib.suppress(Exception):  # best effort: a down Redis must not fail the run
            delete_namespace(bootstrap, redis_url, namespace)

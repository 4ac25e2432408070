"""Factory fixtures: a fresh topic namespace per test, and our services as real processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from harness.kafka import delete_namespace, test_producer
from harness.processes import ManagedProcess, infra_env, python_module, unique_namespace
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.kafka_security import KafkaSecurity
from services.common.producer import EventProducer

SERVICE_READY_TIMEOUT_S = 60.0


@pytest.fixture
def topics(
    kafka_bootstrap: str, kafka_security: KafkaSecurity, redis_url: str
) -> Iterator[TopicNames]:
    """A fresh namespace; its topics, consumer groups and Redis keys go at the end."""
    names = TopicNames(unique_namespace())
    create_topics(kafka_bootstrap, names.specs(), security=kafka_security)
    yield names
    delete_namespace(kafka_bootstrap, redis_url, names.namespace)


@pytest.fixture
def producer(kafka_bootstrap: str) -> Iterator[EventProducer]:
    p = test_producer(kafka_bootstrap).start()
    yield p
    p.close()


@pytest.fixture
def namespace(kafka_bootstrap: str, redis_url: str) -> Iterator[str]:
    """A fresh namespace for tests that need keys but no topics; its keys go at the end."""
    name = unique_namespace()
    yield name
    delete_namespace(kafka_bootstrap, redis_url, name)


@pytest.fixture
def books(redis_url: str) -> Iterator[redis.Redis]:
    """A plain Redis client for reading the spend books (`services.common.spend`)."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


ServiceFactory = Callable[..., ManagedProcess]


@pytest.fixture
def start_service(
    topics: TopicNames, kafka_bootstrap: str, redis_url: str
) -> Iterator[ServiceFactory]:
    """Start `python -m services.<name>` in this test's namespace; all stopped at the end."""
    started: list[ManagedProcess] = []

    def start(name: str, wait: bool = True, **env: str) -> ManagedProcess:
        process = python_module(
            name,
            f"services.{name}",
            infra_env(
                topics.namespace,
                **{"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "REDIS_URL": redis_url, **env},
            ),
        )
        started.append(process.start())
        if wait:
            process.wait_for_log(" assigned ", SERVICE_READY_TIMEOUT_S)
        return process

    yield start
    for process in reversed(started):
        process.stop()

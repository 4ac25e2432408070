"""`ResponseWaiter.wait` on the real broker and Redis (no services needed).

Two waiters stand for two gunicorn workers: each follows every partition, so both
see every response, whichever partition its key hashes to. An answer that reached
Redis before the waiter was positioned is found there; none at all is None at the
deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from harness import kafka as kafka_support
from harness.processes import unique_namespace
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from schemas.topics import TopicNames
from services.common.admin import create_topics
from services.common.kafka_security import KafkaSecurity
from services.common.redis_keys import RedisKeys
from strategist.analysis.store import ResultStore
from strategist.analysis.waiter import ResponseWaiter
from tests.unit.strategist.fakes import answered

pytestmark = pytest.mark.e2e

READY_TIMEOUT_S = 20.0
WAIT_S = 10.0
TTL_S = 600


@pytest.fixture
def topics(kafka_bootstrap: str, kafka_security: KafkaSecurity) -> TopicNames:
    names = TopicNames(unique_namespace("waiter"))
    create_topics(kafka_bootstrap, names.specs(), security=kafka_security)
    return names


@pytest.fixture
def store(redis_url: str, topics: TopicNames) -> ResultStore:
    return ResultStore(url=redis_url, keys=RedisKeys(topics.namespace), ttl_s=TTL_S)


@pytest.fixture
def waiters(
    kafka_bootstrap: str, kafka_security: KafkaSecurity, topics: TopicNames, store: ResultStore
) -> Iterator[list[ResponseWaiter]]:
    started = [
        ResponseWaiter(
            store=store,
            consumer_config=ResponseWaiter.config(kafka_bootstrap, security=kafka_security),
            topic=topics.responses,
        )
        for _ in range(2)
    ]
    for waiter in started:
        waiter.start()
    for waiter in started:
        assert waiter.wait_ready(READY_TIMEOUT_S)
    yield started
    for waiter in started:
        waiter.stop()


def _deadline() -> float:
    return time.monotonic() + WAIT_S


def test_every_waiter_sees_responses_on_every_partition(
    kafka_bootstrap: str, topics: TopicNames, waiters: list[ResponseWaiter]
) -> None:
    producer = kafka_support.test_producer(kafka_bootstrap).start()
    ids = [f"analysis-{i}" for i in range(12)]  # spread over the 3 partitions
    got: dict[tuple[int, str], AnalysisResponded | None] = {}

    def wait(index: int, waiter: ResponseWaiter, analysis_id: str) -> None:
        got[(index, analysis_id)] = waiter.wait(analysis_id, _deadline())

    threads = [
        threading.Thread(target=wait, args=(index, waiter, analysis_id))
        for index, waiter in enumerate(waiters)
        for analysis_id in ids
    ]
    try:
        for thread in threads:
            thread.start()
        registered_by = _deadline()
        while sum(waiter.waiting() for waiter in waiters) < len(threads):
            assert time.monotonic() < registered_by, "waiters did not register"
            time.sleep(0.01)
        for analysis_id in ids:
            response = answered(QueryRequested(query_id=analysis_id, query="q"))
            producer.send_and_wait(topics.responses, analysis_id, response, timeout_s=10)
        for thread in threads:
            thread.join(WAIT_S + 5)
    finally:
        producer.close()
    for (index, analysis_id), found in got.items():
        assert found is not None, f"waiter {index} missed {analysis_id}"
        assert found.analysis_id == analysis_id
    assert len(got) == len(threads)
    assert all(waiter.waiting() == 0 for waiter in waiters)


def test_an_answer_already_in_redis_is_found(
    store: ResultStore, waiters: list[ResponseWaiter]
) -> None:
    early = answered(QueryRequested(query_id="answered-before", query="q"))
    store.save(early)  # as the scorer does before publishing; the follower never sees it
    assert waiters[0].wait("answered-before", _deadline()) == early


def test_responses_for_nobody_here_are_ignored_and_the_deadline_holds(
    kafka_bootstrap: str, topics: TopicNames, waiters: list[ResponseWaiter]
) -> None:
    producer = kafka_support.test_producer(kafka_bootstrap).start()
    try:
        other = answered(QueryRequested(query_id="someone-else", query="q"))
        producer.send_and_wait(topics.responses, "someone-else", other, timeout_s=10)
        started = time.monotonic()
        assert waiters[0].wait("mine", time.monotonic() + 1.0) is None
        assert time.monotonic() - started < WAIT_S
        assert waiters[0].delivered == 0
    finally:
        producer.close()

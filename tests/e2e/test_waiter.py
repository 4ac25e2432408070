"""The per-process responses consumer on the real broker (no services needed).

Two waiters stand for two gunicorn workers: each is assigned every partition,
so both see every response, whichever partition its key hashes to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from schemas.query import QueryRequested
from schemas.topics import TopicNames
from services.common.admin import create_topics
from strategist.waiter import ResponseWaiter
from tests.support import kafka as kafka_support
from tests.support.processes import unique_namespace
from tests.unit.strategist.fakes import answered

pytestmark = pytest.mark.e2e

READY_TIMEOUT_S = 20.0


@pytest.fixture
def topics(kafka_bootstrap: str) -> TopicNames:
    names = TopicNames(unique_namespace("waiter"))
    create_topics(kafka_bootstrap, names.specs())
    return names


@pytest.fixture
def waiters(kafka_bootstrap: str, topics: TopicNames) -> Iterator[list[ResponseWaiter]]:
    started = [
        ResponseWaiter(
            consumer_config=ResponseWaiter.config(kafka_bootstrap), topic=topics.responses
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


def test_every_waiter_sees_responses_on_every_partition(
    kafka_bootstrap: str, topics: TopicNames, waiters: list[ResponseWaiter]
) -> None:
    producer = kafka_support.test_producer(kafka_bootstrap).start()
    ids = [f"analysis-{i}" for i in range(12)]  # spread over the 3 partitions
    try:
        for waiter in waiters:
            with waiter.expect(ids[0]) as _first:
                pass  # registering and leaving must leave nothing behind
            assert waiter.waiting() == 0
        with contextlib.ExitStack() as registered:
            slots = {
                (w, analysis_id): registered.enter_context(waiter.expect(analysis_id))
                for w, waiter in enumerate(waiters)
                for analysis_id in ids
            }
            for analysis_id in ids:
                response = answered(QueryRequested(query_id=analysis_id, query="q"))
                producer.send_and_wait(topics.responses, analysis_id, response, timeout_s=10)
            for (w, analysis_id), slot in slots.items():
                got = slot.wait(10.0)
                assert got is not None, f"waiter {w} missed {analysis_id}"
                assert got.analysis_id == analysis_id
        assert all(waiter.waiting() == 0 for waiter in waiters)
    finally:
        producer.close()


def test_responses_for_nobody_here_are_ignored(
    kafka_bootstrap: str, topics: TopicNames, waiters: list[ResponseWaiter]
) -> None:
    producer = kafka_support.test_producer(kafka_bootstrap).start()
    try:
        with waiters[0].expect("mine") as slot:
            other = answered(QueryRequested(query_id="someone-else", query="q"))
            producer.send_and_wait(topics.responses, "someone-else", other, timeout_s=10)
            producer.send_and_wait(topics.responses, "garbage", other, timeout_s=10)
            mine = answered(QueryRequested(query_id="mine", query="q"))
            producer.send_and_wait(topics.responses, "mine", mine, timeout_s=10)
            got = slot.wait(10.0)
        assert got is not None and got.analysis_id == "mine"
        assert waiters[0].delivered == 1
    finally:
        producer.close()

"""The shared EventWorker on the real broker: transient failures wait, nothing is dropped.

The worker runs in this process (it is plumbing, not a service); the broker is real.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from harness.kafka import TopicReader
from schemas.dead_letter import DeadLetter
from schemas.query import QueryRequested
from schemas.topics import TopicSpec
from services.common.admin import create_topics
from services.common.consumer import consumer_config
from services.common.kafka_security import KafkaSecurity
from services.common.producer import EventProducer, producer_config
from services.common.worker import EventWorker, Outgoing

# The producer gives up on an undeliverable event after this: short, so the test sees
# DeliveryError quickly (the services use 30 s).
DELIVERY_TIMEOUT_MS = 1500
HOLD_S = 4.0
"""How long the missing topic stays missing: several delivery timeouts."""


def _worker(
    topics, bootstrap: str, security: KafkaSecurity, handle, group: str
) -> EventWorker[QueryRequested]:
    producer = EventProducer(
        config=producer_config(
            bootstrap, client_id="t", delivery_timeout_ms=DELIVERY_TIMEOUT_MS, security=security
        )
    )
    return EventWorker(
        service="test",
        topic=topics.queries,
        event_type=QueryRequested,
        handle=handle,
        consumer_config=consumer_config(
            bootstrap, group_id=group, client_id="t", security=security
        ),
        producer=producer,
        dead_letter_topic=topics.dead_letters,
        max_in_flight=4,
    )


def _committed(bootstrap: str, security: KafkaSecurity, group: str, topic: str) -> int:
    consumer = Consumer(
        consumer_config(bootstrap, group_id=group, client_id="t-check", security=security)
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p) for p in metadata.topics[topic].partitions]
        return sum(max(tp.offset, 0) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


async def _run_until(worker: EventWorker, done, timeout_s: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not done() and loop.time() < deadline:
        await asyncio.sleep(0.2)
    stop.set()
    await task


def test_an_output_the_broker_cannot_take_yet_is_retried_not_dead_lettered(
    topics, producer, kafka_bootstrap, kafka_security
) -> None:
    """DeliveryError (broker briefly unable to take an output) is transient: the message
    waits and goes through once the output can be delivered; it is never dead-lettered."""
    late_topic = f"{topics.namespace}.late.v1"
    group = f"{topics.namespace}.worker-delivery"

    async def handle(query: QueryRequested) -> Sequence[Outgoing]:
        return [Outgoing(late_topic, query.query_id, query)]

    producer.send_and_wait(topics.queries, "q1", QueryRequested(query_id="q1", query="hi"), 10)
    worker = _worker(topics, kafka_bootstrap, kafka_security, handle, group)

    async def scenario() -> None:
        async def create_later() -> None:
            await asyncio.sleep(HOLD_S)
            create_topics(kafka_bootstrap, [TopicSpec(late_topic, 1)], security=kafka_security)

        creator = asyncio.create_task(create_later())
        await _run_until(worker, lambda: worker.processed >= 1, 60)
        await creator

    asyncio.run(scenario())
    assert worker.processed == 1 and worker.dead_lettered == 0
    late = TopicReader(kafka_bootstrap, late_topic, QueryRequested)
    try:
        [event] = late.poll_until(lambda e: len(e) >= 1, 20)
    finally:
        late.close()
    assert event.query_id == "q1"
    assert _committed(kafka_bootstrap, kafka_security, group, topics.queries) == 1


def test_when_dead_lettering_fails_the_offset_is_not_left_in_flight(
    topics, producer, kafka_bootstrap, kafka_security
) -> None:
    """Dead-lettering itself failing (here: the dead-letter topic is missing for a while)
    used to escape before the offset tracker was told, silently stopping that partition's
    commits. Now it is retried until it works, then the offset is committed."""
    group = f"{topics.namespace}.worker-dlq"
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_topics([topics.dead_letters]).values():
        future.result(15)

    async def handle(query: QueryRequested) -> Sequence[Outgoing]:
        return []

    producer.send_raw(topics.queries, "bad", b"{not json").result(10)
    producer.send_and_wait(topics.queries, "q2", QueryRequested(query_id="q2", query="ok"), 10)
    worker = _worker(topics, kafka_bootstrap, kafka_security, handle, group)

    async def scenario() -> None:
        async def recreate_later() -> None:
            await asyncio.sleep(HOLD_S)
            with contextlib.suppress(Exception):
                create_topics(
                    kafka_bootstrap,
                    [TopicSpec(topics.dead_letters, 1)],
                    security=kafka_security,
                )

        creator = asyncio.create_task(recreate_later())
        await _run_until(worker, lambda: worker.processed >= 2, 60)
        await creator

    asyncio.run(scenario())
    assert worker.dead_lettered == 1
    dead = TopicReader(kafka_bootstrap, topics.dead_letters, DeadLetter)
    try:
        [letter] = dead.poll_until(lambda e: len(e) >= 1, 20)
    finally:
        dead.close()
    assert letter.payload_bytes() == b"{not json"
    assert _committed(kafka_bootstrap, kafka_security, group, topics.queries) == 2

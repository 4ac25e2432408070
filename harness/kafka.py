"""Reading and writing topics from tests and measuring tools, with the real broker."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from schemas.base import EventModel
from services.common.producer import EventProducer, producer_config
from services.common.settings import InfraSettings

E = TypeVar("E", bound=EventModel)


def test_producer(bootstrap: str) -> EventProducer:
    security = InfraSettings().kafka_security  # the test settings, as a service's are
    return EventProducer(config=producer_config(bootstrap, client_id="tests", security=security))


class TopicReader:
    """Reads a topic from the beginning with a throwaway group, collecting decoded events."""

    def __init__(self, bootstrap: str, topic: str, event_type: type[E]) -> None:
        self.topic = topic
        self.event_type = event_type
        self.events: list = []
        self.raw: list[bytes] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"test-reader-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        self._consumer.subscribe([topic])

    def poll_until(self, done: Callable[[list], bool], timeout_s: float) -> list:
        """Collect events until `done(events)` or the timeout; returns what was read."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not done(self.events):
            message = self._consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            value = message.value() or b""
            self.raw.append(value)
            self.events.append(self.event_type.from_bytes(value))
        return self.events

    def close(self) -> None:
        self._consumer.close()


READ_TIMEOUT_S = 60.0
METADATA_TIMEOUT_S = 10.0


def read_to_end(config: dict[str, Any], topic: str) -> list[bytes]:
    """Every message of `topic` from its start to its end as it was when called, all
    partitions (each in order), with a consumer of `config` that assigns and commits
    nothing; what is not read within READ_TIMEOUT_S is left out."""
    consumer = Consumer(config)
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
        partitions = metadata.topics[topic].partitions
        ends = {}
        for p in partitions:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=METADATA_TIMEOUT_S
            )
            ends[p] = high
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        values: list[bytes] = []
        position = {p: 0 for p in partitions}
        deadline = time.monotonic() + READ_TIMEOUT_S
        while any(position[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            position[message.partition() or 0] = (message.offset() or 0) + 1
            values.append(message.value() or b"")
        return values
    finally:
        consumer.close()


CLEANUP_TIMEOUT_S = 15.0


def delete_namespace(bootstrap: str, redis_url: str | None, namespace: str) -> None:
    """Delete a test namespace's topics, consumer groups and Redis keys (best effort)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    prefix = f"{namespace}."
    topics = [
        t for t in admin.list_topics(timeout=CLEANUP_TIMEOUT_S).topics if t.startswith(prefix)
    ]
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=CLEANUP_TIMEOUT_S).values():
            with contextlib.suppress(Exception):
                future.result(timeout=CLEANUP_TIMEOUT_S)
    with contextlib.suppress(Exception):
        groups = [
            g.group_id
            for g in admin.list_consumer_groups().result(timeout=CLEANUP_TIMEOUT_S).valid
            if g.group_id.startswith(prefix)
        ]
        if groups:
            for future in admin.delete_consumer_groups(groups).values():
                with contextlib.suppress(Exception):
                    future.result(timeout=CLEANUP_TIMEOUT_S)
    if redis_url is None:
        return
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()

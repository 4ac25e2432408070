"""Reading and writing topics from tests, with the real broker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import Consumer

from schemas.base import EventModel
from services.common.producer import EventProducer, producer_config

E = TypeVar("E", bound=EventModel)


def test_producer(bootstrap: str) -> EventProducer:
    return EventProducer(config=producer_config(bootstrap, client_id="tests"))


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
            self.raw.append(message.value())
            self.events.append(self.event_type.from_bytes(message.value()))
        return self.events

    def close(self) -> None:
        self._consumer.close()

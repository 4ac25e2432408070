"""Hands each response from the responses topic to the request thread waiting for it.

Every app process (every gunicorn worker) runs one daemon thread with a
confluent-kafka consumer that is *assigned* every partition of the responses
topic rather than joining a consumer group: a group would split the partitions
between workers, and a worker would then miss the responses its own callers wait
for. The group id is a throwaway required by the client; nothing is committed.

Start-up positions the consumer at each partition's high watermark, read
explicitly, and only then reports ready. Together with the scorer writing the
result to Redis *before* it publishes, a caller that registers its slot, then
publishes, waits for `ready`, and checks Redis once, cannot miss its response:
an answer produced before the watermark was read is already in Redis; any
later one is read by this consumer.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from pydantic import ValidationError

from schemas.response import AnalysisResponded
from services.common.worker import fetch_available

logger = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.25
MAX_BATCH = 500
METADATA_TIMEOUT_S = 3.0
INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0


class Slot:
    """Where one waiting request receives its response."""

    def __init__(self, analysis_id: str) -> None:
        self.analysis_id = analysis_id
        self._event = threading.Event()
        self.response: AnalysisResponded | None = None

    def deliver(self, response: AnalysisResponded) -> None:
        self.response = response
        self._event.set()

    def wait(self, timeout_s: float) -> AnalysisResponded | None:
        """The response, or None when `timeout_s` passed without one."""
        self._event.wait(max(timeout_s, 0.0))
        return self.response


class ResponseWaiter:
    """The process's one responses consumer plus the table of waiting requests.

    Nothing connects in `__init__`; `start()` launches the thread (idempotent, and
    again in a forked child, whose copy of the parent's thread does not exist).
    """

    def __init__(
        self,
        *,
        consumer_config: dict[str, Any],
        topic: str,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        """`prepare` runs on the thread once the broker answers, before positioning: the
        app passes idempotent topic creation, so a fresh namespace works before any service
        has started (the broker may not auto-create topics)."""
        self._config = dict(consumer_config)
        self._topic = topic
        self._prepare = prepare
        self._slots: dict[str, Slot] = {}
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._failing = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.delivered = 0

    @staticmethod
    def config(bootstrap_servers: str, *, client_id: str | None = None) -> dict[str, Any]:
        """Consumer settings for assign-only use: no commits, a group id nobody joins."""
        owner = client_id or f"strategist-app-{socket.gethostname()}-{os.getpid()}"
        return {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"{owner}-{uuid.uuid4().hex[:8]}",
            "client.id": owner,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
            "fetch.wait.max.ms": 50,
        }

    # --- the waiting side (request threads) ---------------------------------------------

    @contextmanager
    def expect(self, analysis_id: str) -> Iterator[Slot]:
        """Register a slot for `analysis_id` for the duration of the block."""
        slot = Slot(analysis_id)
        with self._lock:
            self._slots[analysis_id] = slot
        try:
            yield slot
        finally:
            with self._lock:
                if self._slots.get(analysis_id) is slot:
                    del self._slots[analysis_id]

    def waiting(self) -> int:
        with self._lock:
            return len(self._slots)

    def start(self) -> None:
        """Launch the consumer thread in this process unless it already runs."""
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._ready.clear()
            self._failing.clear()
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="strategist-responses", daemon=True
            )
            self._thread.start()

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the consumer is positioned on every partition."""
        return self._ready.wait(max(timeout_s, 0.0))

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def failing(self) -> bool:
        """True after a start-up attempt failed (broker unreachable), until one succeeds."""
        return self._failing.is_set()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=2 * POLL_TIMEOUT_S + 1.0)

    # --- the consuming side (the daemon thread) -----------------------------------------

    def dispatch(self, key: bytes | None, value: bytes | None) -> bool:
        """Decode one record and wake its waiter; False when nobody here waits for it."""
        analysis_id = key.decode("utf-8", "replace") if key else None
        with self._lock:
            slot = self._slots.get(analysis_id) if analysis_id else None
        if slot is None or value is None:
            return False
        try:
            response = AnalysisResponded.from_bytes(value)
        except ValidationError as err:
            logger.warning("undecodable response for analysis=%s: %s", analysis_id, err)
            return False
        slot.deliver(response)
        self.delivered += 1
        return True

    def _run(self) -> None:
        backoff = INITIAL_BACKOFF_S
        while not self._stop.is_set():
            consumer: Consumer | None = None
            try:
                consumer = Consumer(self._config)
                consumer.list_topics(timeout=METADATA_TIMEOUT_S)  # is the broker there at all?
                if self._prepare is not None:
                    self._prepare()
                self._assign_at_end(consumer)
                self._failing.clear()
                self._ready.set()
                backoff = INITIAL_BACKOFF_S
                logger.info("awaiting responses on %s (pid %d)", self._topic, os.getpid())
                self._consume(consumer)
            except Exception as err:  # broker down or topic missing: retry with backoff
                self._ready.clear()
                self._failing.set()
                logger.warning(
                    "responses consumer on %s unavailable (%s: %s); retrying in %.1fs",
                    self._topic,
                    type(err).__name__,
                    err,
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            finally:
                if consumer is not None:
                    try:
                        consumer.close()
                    except Exception as err:  # closing a broken consumer may fail too
                        logger.debug("consumer close failed: %s", err)

    def _assign_at_end(self, consumer: Consumer) -> None:
        metadata = consumer.list_topics(self._topic, timeout=METADATA_TIMEOUT_S)
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise RuntimeError(f"topic {self._topic} not available: {topic and topic.error}")
        assignment = []
        for partition in sorted(topic.partitions):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(self._topic, partition), timeout=METADATA_TIMEOUT_S
            )
            assignment.append(TopicPartition(self._topic, partition, high))
        consumer.assign(assignment)

    def _consume(self, consumer: Consumer) -> None:
        while not self._stop.is_set():
            messages: list[Message] = fetch_available(consumer, MAX_BATCH, POLL_TIMEOUT_S)
            for message in messages:
                error = message.error()
                if error is None:
                    self.dispatch(message.key(), message.value())
                elif error.fatal():
                    raise RuntimeError(f"fatal consumer error: {error.str()}")
                elif error.code() != KafkaError._PARTITION_EOF:
                    logger.warning("responses consumer error: %s", error.str())

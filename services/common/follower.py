"""Follow a topic from a chosen position without a consumer group, on a daemon thread.

Two readers need every record of a topic in every process, not a share of it:
the dispatcher's provider-status view (the compacted health topic, from the
beginning) and the app's response waiter (the responses topic, from the end).
Both use `TopicFollower`, which owns the parts that are easy to get wrong:

- it assigns every partition explicitly (no group, nothing committed);
- a failure of any kind (broker down at start, topic missing, a fatal error)
  closes the consumer and starts over after a backoff that doubles up to a
  bound, instead of letting the thread die for good;
- `ready` says it is positioned; `last_record_at` and `failures` expose
  staleness to health checks.

The record handler runs on the follower's thread and must be quick; it gets
the raw key and value plus the record's partition and offset.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from services.common.kafka_config import kafka_config
from services.common.kafka_security import KafkaSecurity

logger = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.25
MAX_BATCH = 500
METADATA_TIMEOUT_S = 3.0
INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0
STOP_JOIN_TIMEOUT_S = 2.0

StartAt = Literal["beginning", "end"]
RecordHandler = Callable[[bytes | None, bytes | None, int, int], None]
"""(key, value, partition, offset) -> None."""


def follower_config(
    bootstrap_servers: str, *, owner: str, security: KafkaSecurity
) -> dict[str, Any]:
    """Assign-only consumer settings: a group id nobody joins (librdkafka needs one); with
    the Kafka security settings (`security`) merged in."""
    client_id = f"{owner}-{socket.gethostname()}-{os.getpid()}"
    settings = {
        "group.id": f"{client_id}-{uuid.uuid4().hex[:8]}",
        "client.id": client_id,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 50,
    }
    return kafka_config(bootstrap_servers, settings, security=security)


def fetch_available(consumer: Consumer, max_messages: int, timeout_s: float) -> list[Any]:
    """Wait up to `timeout_s` for the first message, then take what is already buffered.

    `Consumer.consume(n, timeout)` waits the whole timeout unless n messages arrive,
    which adds that timeout to every hop at low traffic; this returns as soon as one
    message is there.
    """
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    if max_messages <= 1:
        return [first]
    return [first, *consumer.consume(max_messages - 1, 0)]


class TopicFollower:
    """Feeds every record of `topic` to `on_record`, restarting with backoff on failure.

    Nothing connects in `__init__`; `start()` launches the thread (idempotent, and
    again in a forked child, whose copy of the parent's thread does not exist).
    """

    def __init__(
        self,
        *,
        name: str,
        config: dict[str, Any],
        topic: str,
        start_at: StartAt,
        on_record: RecordHandler,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        """`prepare` runs once the broker answers, before positioning (e.g. create topics)."""
        self.name = name
        self.topic = topic
        self._config = dict(config)
        self._start_at = start_at
        self._on_record = on_record
        self._prepare = prepare
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._failing = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.failures = 0
        self.last_record_at: float | None = None
        """`time.monotonic()` of the last record handed over; None before the first."""

    def start(self) -> TopicFollower:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return self
            self._pid = os.getpid()
            self._ready.clear()
            self._failing.clear()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=STOP_JOIN_TIMEOUT_S)

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the consumer is positioned on every partition."""
        return self._ready.wait(max(timeout_s, 0.0))

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def failing(self) -> bool:
        """True after an attempt failed (broker unreachable), until one succeeds."""
        return self._failing.is_set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        backoff = INITIAL_BACKOFF_S
        while not self._stop.is_set():
            consumer: Consumer | None = None
            try:
                consumer = Consumer(self._config)
                consumer.list_topics(timeout=METADATA_TIMEOUT_S)  # is the broker there at all?
                if self._prepare is not None:
                    self._prepare()
                self._assign(consumer)
                self._failing.clear()
                self._ready.set()
                backoff = INITIAL_BACKOFF_S
                logger.info("%s following %s from the %s", self.name, self.topic, self._start_at)
                self._consume(consumer)
            except Exception as err:  # broker down, topic missing, fatal error: start over
                self._ready.clear()
                self._failing.set()
                self.failures += 1
                logger.warning(
                    "%s on %s unavailable (%s: %s); retrying in %.1fs",
                    self.name,
                    self.topic,
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
                        logger.debug("%s consumer close failed: %s", self.name, err)

    def _assign(self, consumer: Consumer) -> None:
        metadata = consumer.list_topics(self.topic, timeout=METADATA_TIMEOUT_S)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise RuntimeError(f"topic {self.topic} not available: {topic and topic.error}")
        assignment = []
        for partition in sorted(topic.partitions):
            if self._start_at == "beginning":
                offset = OFFSET_BEGINNING
            else:  # read explicitly, so "ready" means positioned, not "will be"
                _low, offset = consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=METADATA_TIMEOUT_S
                )
            assignment.append(TopicPartition(self.topic, partition, offset))
        consumer.assign(assignment)

    def _hand_over(self, message: Any) -> None:
        """A record the handler cannot take is logged and skipped: one bad record must not
        stall (or, by restarting, skip) everything after it."""
        try:
            self._on_record(message.key(), message.value(), message.partition(), message.offset())
        except Exception:
            logger.exception(
                "%s skipped %s[%d]@%d", self.name, self.topic, message.partition(), message.offset()
            )

    def _consume(self, consumer: Consumer) -> None:
        while not self._stop.is_set():
            for message in fetch_available(consumer, MAX_BATCH, POLL_TIMEOUT_S):
                error = message.error()
                if error is None:
                    self.last_record_at = time.monotonic()
                    self._hand_over(message)
                elif error.fatal():
                    raise RuntimeError(f"fatal consumer error: {error.str()}")
                elif error.code() != KafkaError._PARTITION_EOF:
                    logger.warning("%s consumer error: %s", self.name, error.str())

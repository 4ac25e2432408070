"""Reading a time window of topics without a consumer group.

Each partition is assigned explicitly at the first offset whose timestamp is at or
after the window's start (the broker's offsets-for-times) and read up to the end of
the window or the partition's end as it was when the read began, whichever comes
first; nothing is committed and no group is joined (librdkafka needs a `group.id`,
so it gets a unique one that never subscribes). A record timestamp is the
producer's create time, which is when the service published the event.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from services.common.follower import fetch_available, follower_config
from services.common.kafka_security import KafkaSecurity
from services.common.tracing import message_trace_id

logger = logging.getLogger(__name__)

METADATA_TIMEOUT_S = 5.0
POLL_TIMEOUT_S = 0.5
MAX_BATCH = 1000
READ_TIMEOUT_S = 600.0
"""A window read that makes no progress for this long gives up (broker gone)."""
STALL_TIMEOUT_S = 30.0

Progress = Callable[[int], None]
"""Told how many more records were read; `total_records` is known before the first."""


class TopicUnavailable(Exception):
    """A topic could not be read (missing, or the broker did not answer)."""


@dataclass(frozen=True)
class Record:
    """One record as read: where it was and what it held."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    trace_id: str | None = None
    """The trace the event was published in (its `traceparent` header), if any."""


@dataclass(frozen=True)
class Span:
    """The part of one partition a read covers: [start, end)."""

    topic: str
    partition: int
    start: int
    end: int


class WindowReader:
    """Reads records of `topics` stamped in [since_ms, until_ms]; connects per read."""

    def __init__(self, *, bootstrap_servers: str, security: KafkaSecurity) -> None:
        self._bootstrap = bootstrap_servers
        self._security = security

    def spans(self, consumer: Consumer, topics: Iterable[str], since_ms: int) -> list[Span]:
        """Where each partition's window starts (offsets-for-times) and where it ends now."""
        spans = []
        for name in topics:
            metadata = consumer.list_topics(name, timeout=METADATA_TIMEOUT_S)
            topic = metadata.topics.get(name)
            if topic is None or topic.error is not None or not topic.partitions:
                raise TopicUnavailable(f"topic {name} not available: {topic and topic.error}")
            wanted = [TopicPartition(name, p, since_ms) for p in sorted(topic.partitions)]
            for found in consumer.offsets_for_times(wanted, timeout=METADATA_TIMEOUT_S):
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(name, found.partition), timeout=METADATA_TIMEOUT_S
                )
                if 0 <= found.offset < high:
                    spans.append(Span(name, found.partition, found.offset, high))
        return spans

    def read(
        self,
        topics: Iterable[str],
        since_ms: int,
        until_ms: int,
        *,
        on_total: Callable[[int], None] | None = None,
        progress: Progress | None = None,
    ) -> list[Record]:
        """Every record of `topics` stamped in [since_ms, until_ms], in offset order per
        partition. Raises TopicUnavailable."""
        consumer = Consumer(
            follower_config(self._bootstrap, owner="audit", security=self._security)
        )
        try:
            spans = self.spans(consumer, topics, since_ms)
            if on_total is not None:
                on_total(sum(s.end - s.start for s in spans))
            if not spans:
                return []
            consumer.assign([TopicPartition(s.topic, s.partition, s.start) for s in spans])
            return self._drain(consumer, spans, until_ms, progress)
        except KafkaException as err:
            raise TopicUnavailable(str(err)) from err
        finally:
            consumer.close()

    def _drain(
        self, consumer: Consumer, spans: list[Span], until_ms: int, progress: Progress | None
    ) -> list[Record]:
        open_until = {(s.topic, s.partition): s for s in spans}
        records: list[Record] = []
        give_up_at = time.monotonic() + READ_TIMEOUT_S
        last_progress = time.monotonic()
        while open_until:
            now = time.monotonic()
            if now > give_up_at or now - last_progress > STALL_TIMEOUT_S:
                raise TopicUnavailable(f"reading stalled; {len(open_until)} partitions unread")
            batch = fetch_available(consumer, MAX_BATCH, POLL_TIMEOUT_S)
            read = 0
            for message in batch:
                error = message.error()
                if error is not None:
                    if error.fatal():
                        raise KafkaException(error)
                    if error.code() != KafkaError._PARTITION_EOF:
                        logger.debug("audit read: %s", error.str())
                    continue
                where = (message.topic(), message.partition())
                span = open_until.get(where)
                if span is None:
                    continue
                read += 1
                _kind, stamp = message.timestamp()
                if message.offset() + 1 >= span.end or stamp > until_ms:
                    del open_until[where]
                    consumer.pause([TopicPartition(*where)])
                if stamp > until_ms:
                    continue
                records.append(
                    Record(
                        message.topic(),
                        message.partition(),
                        message.offset(),
                        stamp,
                        message.key(),
                        message.value(),
                        message_trace_id(message),
                    )
                )
            if read:
                last_progress = time.monotonic()
                if progress is not None:
                    progress(read)
        return records

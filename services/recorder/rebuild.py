"""Drop the decision-record tables and rebuild them from the topics (`audit rebuild`).

The Kafka log is the system of record. A rebuild drops the tables, runs the
migrations, then reads every audit topic from its first retained record to the end it
had when the rebuild started, assigning partitions directly (no consumer group: no
one's offsets move), and applies the same upserts as the live recorder. Because the
upserts choose their rows independently of arrival order, the result equals what the
recorder wrote live. A recorder running meanwhile retries its writes while the tables
are missing and then writes the same rows again, harmlessly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from sqlalchemy import Engine, func, select, text

from services.common.database import VERSION_TABLE, make_engine, upgrade
from services.common.follower import follower_config
from services.common.kafka_security import KafkaSecurity
from services.common.tables import TABLES
from services.common.tracing import message_trace_id
from services.recorder.handler import records
from services.recorder.settings import RecorderSettings
from services.recorder.worker import RecordedTopic, recorded_topics
from services.recorder.writer import RecordWriter

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""progress(topic, records read so far, records to read in that topic)."""

METADATA_TIMEOUT_S = 10.0
WATERMARK_TIMEOUT_S = 10.0
POLL_TIMEOUT_S = 1.0
BATCH = 500
STALL_TIMEOUT_S = 60.0
"""A topic that yields nothing for this long before its end was reached is an error."""


class RebuildError(RuntimeError):
    """The topics could not be read to their end (broker gone, a record unreadable)."""


def _no_progress(topic: str, done: int, total: int) -> None:
    del topic, done, total


def rebuild(settings: RecorderSettings, progress: Progress | None = None) -> dict[str, int]:
    """Drop, migrate, replay every audit topic; return the row count of every table.

    Every topic's extent is read before anything is dropped, so a missing topic or an
    unreachable broker (a wrong TOPIC_NAMESPACE, say) raises RebuildError with the tables
    untouched.
    """
    bootstrap = settings.infra.kafka_bootstrap_servers
    security = settings.infra.kafka_security
    topics = recorded_topics(settings.infra.topics)
    extents = _extents(bootstrap, topics, security)
    engine = make_engine(settings.database_url.get_secret_value(), pool_size=1)
    try:
        drop_all(engine)
        upgrade(engine)
        writer = RecordWriter(engine=engine)
        for topic in topics:
            read = _replay(bootstrap, security, topic, extents[topic.name], writer,
                           progress or _no_progress)
            logger.info("rebuild: %d records from %s", read, topic.name)
        return row_counts(engine)
    finally:
        engine.dispose()


def drop_all(engine: Engine) -> None:
    """Drop the recorder's tables and the migration record (a rebuild re-creates them).

    Dropping here is the rebuild's data reset, not a schema change: the migrations
    that follow create the same tables again. The API keys are not a copy of the
    topics and stay (`KEPT_ON_REBUILD`).
    """
    with engine.begin() as connection:
        for table in reversed(TABLES):
            connection.execute(text(f'DROP TABLE IF EXISTS "{table.name}"'))
        connection.execute(text(f'DROP TABLE IF EXISTS "{VERSION_TABLE}"'))
    logger.info("dropped %d recorder tables", len(TABLES))


def _extents(
    bootstrap: str, topics: list[RecordedTopic], security: KafkaSecurity
) -> dict[str, dict[int, tuple[int, int]]]:
    consumer = Consumer(follower_config(bootstrap, owner="audit-rebuild", security=security))
    try:
        return {topic.name: _end_offsets(consumer, topic.name) for topic in topics}
    finally:
        consumer.close()


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per recorder table, by table name."""
    with engine.connect() as connection:
        return {table.name: int(connection.execute(select(func.count()).select_from(table))
                                .scalar_one())
                for table in TABLES}


def _replay(bootstrap: str, security: KafkaSecurity, topic: RecordedTopic,
            ends: dict[int, tuple[int, int]], writer: RecordWriter, progress: Progress) -> int:
    """Apply every record of `topic` from each partition's first offset to its end."""
    consumer = Consumer(follower_config(bootstrap, owner="audit-rebuild", security=security))
    try:
        total = sum(high - low for low, high in ends.values())
        progress(topic.name, 0, total)
        pending = {p: high for p, (low, high) in ends.items() if high > low}
        if not pending:
            return 0
        consumer.assign([TopicPartition(topic.name, p, low) for p, (low, _) in ends.items()
                         if p in pending])
        read = 0
        last_record = time.monotonic()
        while pending:
            messages = consumer.consume(BATCH, POLL_TIMEOUT_S)
            batch = []
            for message in messages:
                if not _wanted(message, pending):
                    continue
                event = topic.event_type.from_bytes(message.value() or b"")
                batch.extend(records(event, message_trace_id(message)))
                read += 1
            if batch:
                writer.write_records(batch)
            if messages:
                last_record = time.monotonic()
                progress(topic.name, read, total)
            elif _past_the_end(consumer, topic.name, pending):
                continue
            elif time.monotonic() - last_record > STALL_TIMEOUT_S:
                raise RebuildError(f"{topic.name}: no records for {STALL_TIMEOUT_S:.0f}s with "
                                   f"partitions {sorted(pending)} unfinished")
        return read
    finally:
        consumer.close()


def _wanted(message: Message, pending: dict[int, int]) -> bool:
    """A record before its partition's end as of the start; drops the partition at its end."""
    error = message.error()
    if error is not None:
        if error.code() == KafkaError._PARTITION_EOF:
            return False
        raise RebuildError(f"reading {message.topic()}: {error.str()}")
    partition, offset = message.partition(), message.offset()
    assert partition is not None and offset is not None  # set on records
    end = pending.get(partition)
    if end is None or offset >= end:
        return False
    if offset + 1 >= end:
        del pending[partition]
    return True


def _past_the_end(consumer: Consumer, topic: str, pending: dict[int, int]) -> bool:
    """Drop partitions whose position passed their end without a record at end - 1 (a
    compacted-away record or a transaction marker); true when any was dropped."""
    positions = consumer.position([TopicPartition(topic, p) for p in pending])
    finished = [tp.partition for tp in positions if tp.offset >= pending[tp.partition]]
    for partition in finished:
        del pending[partition]
    return bool(finished)


def _end_offsets(consumer: Consumer, topic: str) -> dict[int, tuple[int, int]]:
    """(first retained, end) offset of every partition of `topic`, as of now."""
    try:
        metadata = consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S)
    except KafkaException as err:
        raise RebuildError(f"{topic}: {err}") from err
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        raise RebuildError(f"{topic}: {found.error if found is not None else 'no such topic'}")
    return {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=WATERMARK_TIMEOUT_S)
        for p in found.partitions
    }

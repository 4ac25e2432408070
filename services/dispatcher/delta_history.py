"""An analysis's events on the answer-deltas topic, read back after a crash.

Only a redelivered query whose earlier delivery began dispatching it asks (the dispatch
lease's record, dispatch_lease.py), so a normal query pays nothing. The read is bounded:
one partition (the analysis id's, `services.common.partitions`), from the query's time
less a clock-skew margin (`offsets_for_times`) to the partition's end as it is now, within
a time budget. The crashed delivery is dead by then (its lease lapsed), so nothing of it
arrives later. A read that fails (broker unreachable, the budget spent) raises
`TransientHandlerError`: the worker retries the message, as for any infrastructure that
comes back by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from pydantic import ValidationError

from schemas.delta import AnswerDelta
from services.common.failures import TransientHandlerError
from services.common.follower import fetch_available, follower_config
from services.common.kafka_security import KafkaSecurity
from services.common.partitions import key_partition

logger = logging.getLogger(__name__)

CLOCK_SKEW_MS = 60_000
"""Start this much before the query's time: the broker's clock may be behind the app's."""
READ_BUDGET_S = 10.0
METADATA_TIMEOUT_S = 3.0
POLL_TIMEOUT_S = 0.2
MAX_BATCH = 500


class DeltaHistory:
    """Reads one analysis's answer deltas; connects per read (a rare path)."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        security: KafkaSecurity,
        topic: str,
        budget_s: float = READ_BUDGET_S,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._security = security
        self._topic = topic
        self._budget_s = budget_s

    async def read(self, analysis_id: str, since: datetime) -> list[AnswerDelta]:
        """The analysis's events from about `since`, in the order written; raises
        TransientHandlerError when the topic cannot be read within the budget."""
        return await asyncio.to_thread(self._read, analysis_id, since)

    def _read(self, analysis_id: str, since: datetime) -> list[AnswerDelta]:
        started = time.monotonic()
        consumer = Consumer(
            follower_config(self._bootstrap, owner="dispatcher-recovery", security=self._security)
        )
        try:
            end = self._position(consumer, analysis_id, int(since.timestamp() * 1000))
            events = self._collect(consumer, analysis_id, end, started)
        except KafkaException as err:
            raise TransientHandlerError(f"{self._topic} unreadable: {err}") from err
        finally:
            consumer.close()
        logger.info(
            "analysis=%s read %d delta events back in %.0f ms",
            analysis_id, len(events), (time.monotonic() - started) * 1000,
        )  # fmt: skip
        return events

    def _position(self, consumer: Consumer, analysis_id: str, since_ms: int) -> int:
        """Assign the analysis's partition at `since_ms` (less the skew); the end offset to
        read to (0: nothing to read)."""
        metadata = consumer.list_topics(self._topic, timeout=METADATA_TIMEOUT_S)
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None or not topic.partitions:
            raise TransientHandlerError(f"topic {self._topic} not available")
        partition = key_partition(analysis_id, len(topic.partitions))
        [start] = consumer.offsets_for_times(
            [TopicPartition(self._topic, partition, since_ms - CLOCK_SKEW_MS)],
            timeout=METADATA_TIMEOUT_S,
        )
        _low, high = consumer.get_watermark_offsets(
            TopicPartition(self._topic, partition), timeout=METADATA_TIMEOUT_S
        )
        if start.offset < 0 or start.offset >= high:
            return 0
        consumer.assign([TopicPartition(self._topic, partition, start.offset)])
        return int(high)

    def _collect(
        self, consumer: Consumer, analysis_id: str, end: int, started: float
    ) -> list[AnswerDelta]:
        key = analysis_id.encode()
        events: list[AnswerDelta] = []
        position = -1
        while end and position + 1 < end:
            if time.monotonic() - started > self._budget_s:
                raise TransientHandlerError(
                    f"reading {analysis_id}'s deltas took over {self._budget_s:.0f} s"
                )
            for message in fetch_available(consumer, MAX_BATCH, POLL_TIMEOUT_S):
                error = message.error()
                if error is not None:
                    if error.fatal():
                        raise KafkaException(error)
                    if error.code() != KafkaError._PARTITION_EOF:
                        logger.debug("delta history: %s", error.str())
                    continue
                position = max(position, message.offset())
                if message.key() != key or message.offset() >= end:
                    continue
                try:
                    events.append(AnswerDelta.from_bytes(message.value()))
                except ValidationError as err:
                    logger.warning("analysis=%s undecodable delta skipped: %s", analysis_id, err)
        return events

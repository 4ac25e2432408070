"""Reading a finished analysis back from the responses topic, the durable record.

Redis holds results for fast reads, but Redis can lose them (a restart without
persistence, an eviction). The responses topic keeps every answer for 7 days,
keyed by analysis id. When Redis has neither a result nor a pending marker for
an id, the API asks this archive before answering 404.

It never scans the whole topic. A time-ordered id (see `analysis_id`) gives the
analysis's creation time; `offsets_for_times` finds the first record of each
partition at that moment (less `CLOCK_SKEW_MS`), and the scan reads forward only
through records stamped within `window_ms` of it, and for at most `budget_s`.
Ids without a time (the old random ones) are not looked up: they answer 404.

Which record wins follows the result store's rule (`services.common.results`):
the first answer for the id, unless it failed and a completed one follows.

When there is no answer yet, `accepted` looks for the query itself on the queries
topic the same way: an analysis Redis forgot while it was still running is
pending (202), not unknown (404).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from pydantic import ValidationError

from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.common.follower import fetch_available, follower_config
from services.common.kafka_security import KafkaSecurity
from strategist.analysis.ids import created_ms

logger = logging.getLogger(__name__)

CLOCK_SKEW_MS = 60_000
"""Start this much before the id's time: the broker's clock may be behind the app's."""
POLL_TIMEOUT_S = 0.2
MAX_BATCH = 500
METADATA_TIMEOUT_S = 2.0
DEFAULT_WINDOW_S = 900.0
DEFAULT_BUDGET_S = 3.0
MAX_CONCURRENT_LOOKUPS = 2
"""Lookups per process at once: after Redis lost everything, many GETs arrive together."""
LOOKUP_QUEUE_TIMEOUT_S = 1.0


T = TypeVar("T")
Pick = Callable[[T | None, Any], tuple[T | None, bool]]
"""(best so far, raw record value) -> (new best, final: stop scanning)."""


class ArchiveUnavailable(Exception):
    """The topic could not be read (broker down) or too many lookups are running."""


class ResponseArchive:
    """Finds one analysis's response on the responses topic; connects per lookup."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        security: KafkaSecurity,
        topic: str,
        queries_topic: str,
        retention_ms: int,
        window_s: float = DEFAULT_WINDOW_S,
        budget_s: float = DEFAULT_BUDGET_S,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._security = security
        self._topic = topic
        self._queries_topic = queries_topic
        self._retention_ms = retention_ms
        self._window_ms = int(window_s * 1000)
        self._budget_s = budget_s
        self._lookups = threading.BoundedSemaphore(MAX_CONCURRENT_LOOKUPS)

    def find(self, analysis_id: str) -> AnalysisResponded | None:
        """The stored answer, or None when the id carries no time, is older than the
        topic's retention, or has no response within the window.

        Raises ArchiveUnavailable when the topic cannot be read in time.
        """
        return self._lookup(self._topic, analysis_id, _preferred)

    def accepted(self, analysis_id: str) -> QueryRequested | None:
        """The query when it is on the queries topic (it was accepted; no answer yet).

        Raises ArchiveUnavailable when the topic cannot be read in time.
        """
        return self._lookup(self._queries_topic, analysis_id, _query)

    def records(self, topic: str, analysis_id: str) -> list[bytes]:
        """Every record value keyed `analysis_id` on `topic` (e.g. its answer deltas), in
        the order written, within the same window; raises ArchiveUnavailable."""
        found = self._lookup(topic, analysis_id, _every)
        return found or []

    def _lookup(self, topic: str, analysis_id: str, pick: Pick[T]) -> T | None:
        since_ms = created_ms(analysis_id)
        now_ms = time.time_ns() // 1_000_000
        if since_ms is None or not (
            now_ms - self._retention_ms <= since_ms <= now_ms + CLOCK_SKEW_MS
        ):
            return None
        if not self._lookups.acquire(timeout=LOOKUP_QUEUE_TIMEOUT_S):
            raise ArchiveUnavailable("too many archive lookups at once; retry")
        try:
            return self._scan(
                topic, analysis_id, since_ms - CLOCK_SKEW_MS, since_ms + self._window_ms, pick
            )
        except KafkaException as err:
            raise ArchiveUnavailable(f"{topic} unreadable: {err}") from err
        finally:
            self._lookups.release()

    def _scan(
        self, topic: str, analysis_id: str, start_ms: int, end_ms: int, pick: Pick[T]
    ) -> T | None:
        deadline = time.monotonic() + self._budget_s
        consumer = Consumer(
            follower_config(self._bootstrap, owner="strategist-archive", security=self._security)
        )
        try:
            open_until = self._position(consumer, topic, start_ms)
            key = analysis_id.encode()
            best: T | None = None
            while open_until:
                if time.monotonic() > deadline:
                    raise ArchiveUnavailable(
                        f"responses scan for {analysis_id} exceeded {self._budget_s:.1f}s"
                    )
                for message in fetch_available(consumer, MAX_BATCH, POLL_TIMEOUT_S):
                    error = message.error()
                    if error is not None:
                        if error.fatal():
                            raise KafkaException(error)
                        if error.code() != KafkaError._PARTITION_EOF:
                            logger.debug("archive scan: %s", error.str())
                        continue
                    partition = message.partition()
                    if partition not in open_until:
                        continue
                    _kind, stamp = message.timestamp()
                    if stamp > end_ms or message.offset() + 1 >= open_until[partition]:
                        del open_until[partition]  # past the window, or at its end
                    if stamp > end_ms or message.key() != key:
                        continue
                    best, final = pick(best, message.value())
                    if final:
                        return best  # nothing later can replace it
            return best
        finally:
            consumer.close()

    def _position(self, consumer: Consumer, name: str, start_ms: int) -> dict[int, int]:
        """Assign each partition at `start_ms`; returns partition -> end offset for those
        with records to read."""
        metadata = consumer.list_topics(name, timeout=METADATA_TIMEOUT_S)
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            raise ArchiveUnavailable(f"topic {name} not available")
        wanted = [TopicPartition(name, p, start_ms) for p in sorted(topic.partitions)]
        starts = consumer.offsets_for_times(wanted, timeout=METADATA_TIMEOUT_S)
        assignment = []
        open_until: dict[int, int] = {}
        for start in starts:
            if start.offset < 0:  # no record at or after start_ms in this partition
                continue
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(name, start.partition), timeout=METADATA_TIMEOUT_S
            )
            if start.offset < high:
                assignment.append(TopicPartition(name, start.partition, start.offset))
                open_until[start.partition] = high
        if assignment:
            consumer.assign(assignment)
        return open_until


def _preferred(best: AnalysisResponded | None, raw: Any) -> tuple[AnalysisResponded | None, bool]:
    """First answer wins, except that a completed answer replaces a failed one; final once
    an answer is completed."""
    if raw is None:
        return best, False
    try:
        candidate = AnalysisResponded.from_bytes(raw)
    except ValidationError as err:
        logger.warning("undecodable response on the topic: %s", err)
        return best, False
    if best is None or (best.status == "failed" and candidate.status == "completed"):
        best = candidate
    return best, best.status == "completed"


def _every(best: list[bytes] | None, raw: Any) -> tuple[list[bytes] | None, bool]:
    """Collects every value; never final (the window's end stops the scan)."""
    values = best or []
    if raw is not None:
        values.append(raw)
    return values, False


def _query(best: QueryRequested | None, raw: Any) -> tuple[QueryRequested | None, bool]:
    """The first decodable record with the key (its campaign decides who may see it)."""
    if raw is None:
        return best, False
    try:
        return QueryRequested.from_bytes(raw), True
    except ValidationError as err:
        logger.warning("undecodable query on the topic: %s", err)
        return best, False

"""The dispatcher's live view of provider health, read from the compacted health topic.

A background thread reads the topic from the beginning without a consumer group
(every dispatcher instance needs every status) and keeps the latest per provider.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from pydantic import ValidationError

from schemas.health import ProviderStatus

logger = logging.getLogger(__name__)

POLL_TIMEOUT_S = 0.2
METADATA_TIMEOUT_S = 10.0


class HealthView:
    """Latest ProviderStatus per provider; `is_down()` is what routing asks."""

    def __init__(self, *, stale_after_s: float) -> None:
        self._stale_after_s = stale_after_s
        self._latest: dict[str, ProviderStatus] = {}
        self._lock = threading.Lock()

    def update(self, status: ProviderStatus) -> None:
        with self._lock:
            current = self._latest.get(status.provider)
            if current is None or status.occurred_at >= current.occurred_at:
                self._latest[status.provider] = status

    def status(self, provider: str) -> ProviderStatus | None:
        """The provider's latest status, or None when unknown or stale."""
        with self._lock:
            status = self._latest.get(provider)
        if status is None:
            return None
        age_s = (datetime.now(UTC) - status.occurred_at).total_seconds()
        return None if age_s > self._stale_after_s else status

    def is_down(self, provider: str) -> bool:
        status = self.status(provider)
        return status is not None and status.state == "down"


class HealthTopicReader:
    """Feeds a HealthView from the health topic on a daemon thread."""

    def __init__(self, *, view: HealthView, bootstrap_servers: str, topic: str) -> None:
        self._view = view
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": "unused-health-view",  # required by librdkafka; we never commit
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
        self._topic = topic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="health-view", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        consumer = Consumer(self._config)
        try:
            metadata = consumer.list_topics(self._topic, timeout=METADATA_TIMEOUT_S)
            partitions = metadata.topics[self._topic].partitions
            consumer.assign([TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in partitions])
            while not self._stop.is_set():
                message = consumer.poll(POLL_TIMEOUT_S)
                if message is None or message.error() is not None:
                    continue
                try:
                    self._view.update(ProviderStatus.from_bytes(message.value() or b""))
                except ValidationError:
                    logger.warning(
                        "ignoring malformed status at %s[%d]@%d",
                        message.topic(),
                        message.partition(),
                        message.offset(),
                    )
        except Exception:
            logger.exception("health view reader stopped; routing continues without it")
        finally:
            consumer.close()

"""The dispatcher's live view of provider statuses, read from the compacted health topic.

A `TopicFollower` (services/common/follower.py) reads the topic from the beginning
without a consumer group (every dispatcher instance needs every status) and restarts
with backoff after any failure; the view keeps the latest status per provider.

"Latest" is decided by the broker's offset, not by the status's own `occurred_at`:
the topic has one partition, so the offset is the order the health service wrote
in, while a timestamp from a host with a fast clock would beat every later status.
Age (for ignoring a dead monitor's last word) counts from the earlier of
`occurred_at` and the time the status arrived, so a future stamp cannot keep a
status fresh for ever either.

When a status turns a provider down, the feed calls its `on_down` hook (the dispatcher
cancels the attempts in flight on that provider and reroutes them: inflight.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from schemas.health import ProviderStatus
from services.common.follower import TopicFollower, follower_config
from services.common.kafka_security import KafkaSecurity

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Entry:
    status: ProviderStatus
    offset: int
    as_of: datetime
    """`occurred_at`, clamped to the arrival time when it lies in the future."""


class ProviderStatusView:
    """Latest ProviderStatus per provider; `is_down()` is what routing asks. Thread-safe."""

    def __init__(self, *, stale_after_s: float, clock: Clock = _utc_now) -> None:
        self._stale_after_s = stale_after_s
        self._clock = clock
        self._latest: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def update(self, status: ProviderStatus, offset: int) -> bool:
        """Keep `status` unless a status written later (higher offset) is already held.

        True when this status turned the provider down (it was not down, or its last
        status was stale), so the caller acts once per outage, not on every heartbeat.
        """
        was_down = self.is_down(status.provider)
        as_of = min(status.occurred_at, self._clock())
        with self._lock:
            current = self._latest.get(status.provider)
            if current is not None and offset < current.offset:
                return False
            self._latest[status.provider] = _Entry(status, offset, as_of)
        return not was_down and self.is_down(status.provider)

    def status(self, provider: str) -> ProviderStatus | None:
        """The provider's latest status, or None when unknown or stale."""
        with self._lock:
            entry = self._latest.get(provider)
        if entry is None:
            return None
        age_s = (self._clock() - entry.as_of).total_seconds()
        return None if age_s > self._stale_after_s else entry.status

    def is_down(self, provider: str) -> bool:
        status = self.status(provider)
        return status is not None and status.state == "down"


class StatusFeed:
    """Feeds a ProviderStatusView from the health topic and says how fresh the feed is."""

    def __init__(
        self,
        *,
        view: ProviderStatusView,
        bootstrap_servers: str,
        security: KafkaSecurity,
        topic: str,
        stale_after_s: float,
        on_down: Callable[[str], None] | None = None,
    ) -> None:
        self._view = view
        self._on_down = on_down
        self._stale_after_s = stale_after_s
        self._started_at = time.monotonic()
        self._reported_stale = False
        self.follower = TopicFollower(
            name="provider-status",
            config=follower_config(bootstrap_servers, owner="dispatcher-status", security=security),
            topic=topic,
            start_at="beginning",
            on_record=self._on_record,
        )

    def start(self) -> StatusFeed:
        self._started_at = time.monotonic()
        self.follower.start()
        return self

    def stop(self) -> None:
        self.follower.stop()

    def _on_record(
        self, key: bytes | None, value: bytes | None, partition: int, offset: int
    ) -> None:
        try:
            status = ProviderStatus.from_bytes(value or b"")
        except ValidationError:
            logger.warning(
                "ignoring malformed status at %s[%d]@%d", self.follower.topic, partition, offset
            )
            return
        if self._view.update(status, offset) and self._on_down is not None:
            logger.warning("provider=%s marked down: %s", status.provider, status.reason)
            self._on_down(status.provider)

    @property
    def seconds_since_last_record(self) -> float:
        """Since the last status arrived (or since start, before the first)."""
        last = self.follower.last_record_at
        return time.monotonic() - (last if last is not None else self._started_at)

    @property
    def stale(self) -> bool:
        """True while the follower is failing or no status arrived for `stale_after_s`.

        Routing then treats every provider as up (no status is fresh), which is the
        safe default; this property makes the blind spot visible.
        """
        return self.follower.failing or self.seconds_since_last_record > self._stale_after_s

    def report(self) -> bool:
        """Log once when the feed turns stale and once when it recovers; returns `stale`."""
        stale = self.stale
        if stale and not self._reported_stale:
            logger.warning(
                "provider statuses stale: none for %.0f s (follower failing=%s, failures=%d); "
                "routing ignores health until they return",
                self.seconds_since_last_record,
                self.follower.failing,
                self.follower.failures,
            )
        elif not stale and self._reported_stale:
            logger.info("provider statuses flowing again")
        self._reported_stale = stale
        return stale

"""Every app process's view of the answer-deltas topic: recent deltas and who listens.

One `TopicFollower` per process reads every partition from the end (no group: each
process needs every analysis's deltas, since a caller may connect to any). Deltas are
kept per analysis for `KEEP_S` after its last one, so a stream opened (or reopened)
shortly after its analysis began reads the beginning here; `covers(analysis_id)` says
whether the follower was reading when the analysis was created (otherwise the stream
reads the beginning from the topic, `ResponseArchive.records`).

`subscribe` hands back, atomically, the deltas so far and a queue for the ones to come,
so none falls between them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from schemas.delta import AnswerDelta
from services.common.follower import TopicFollower
from strategist.analysis.ids import created_ms

logger = logging.getLogger(__name__)

FOLLOWER_NAME = "strategist-deltas"
KEEP_S = 180.0
"""How long an analysis's deltas stay in memory after its last one (a stream opened later
reads them from the topic)."""
MAX_ANALYSES = 5_000
"""Analyses kept at most (the oldest go first): about 1,000 answers a minute."""
NO_DELTAS_YET_S = 30.0
"""An analysis younger than this with nothing in memory has no deltas yet; an older one
may have had them evicted, so its stream reads the topic."""
COVER_MARGIN_MS = 1000
"""An analysis created this soon after the follower was positioned may have deltas it missed."""


@dataclass
class _Recent:
    deltas: list[AnswerDelta] = field(default_factory=list)
    touched: float = field(default_factory=time.monotonic)


class Subscription:
    """The deltas of one analysis: those already read, then `next` for the ones to come."""

    def __init__(self, analysis_id: str, history: list[AnswerDelta], covered: bool) -> None:
        self.analysis_id = analysis_id
        self.history = history
        self.covered = covered
        """True when `history` is everything since the analysis began."""
        self._queue: queue.SimpleQueue[AnswerDelta | None] = queue.SimpleQueue()

    def put(self, delta: AnswerDelta) -> None:
        self._queue.put(delta)

    def wake(self) -> None:
        """End a `next` wait early (the answer arrived)."""
        self._queue.put(None)

    def next(self, timeout_s: float) -> AnswerDelta | None:
        """The next delta, or None after `timeout_s` or a `wake`."""
        try:
            return self._queue.get(timeout=max(timeout_s, 0.0))
        except queue.Empty:
            return None


class DeltaHub:
    """The process's deltas follower, its recent deltas, and the open subscriptions."""

    def __init__(
        self,
        *,
        consumer_config: dict[str, Any],
        topic: str,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, _Recent] = OrderedDict()
        self._subscribers: dict[str, list[Subscription]] = {}
        self._covered_since_ms: int | None = None
        self._follower = TopicFollower(
            name=FOLLOWER_NAME,
            config=consumer_config,
            topic=topic,
            start_at="end",
            on_record=self._on_record,
            prepare=prepare,
        )

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def wait_ready(self, timeout_s: float) -> bool:
        ready = self._follower.wait_ready(timeout_s)
        with self._lock:
            if ready and self._covered_since_ms is None:
                self._covered_since_ms = time.time_ns() // 1_000_000
            elif not ready:
                self._covered_since_ms = None
        return ready

    def covers(self, analysis_id: str) -> bool:
        """True when every delta of the analysis passed this follower (in memory if kept)."""
        created = created_ms(analysis_id)
        with self._lock:
            since = self._covered_since_ms
        if not self._follower.ready or since is None or created is None:
            return False
        return created >= since + COVER_MARGIN_MS

    def _on_record(self, key: bytes | None, value: bytes | None, _p: int, _o: int) -> None:
        if key is None or value is None:
            return
        try:
            delta = AnswerDelta.from_bytes(value)
        except ValidationError as err:
            logger.warning("undecodable answer delta for %r: %s", key[:64], err)
            return
        self.add(delta)

    def add(self, delta: AnswerDelta) -> None:
        """Keep one delta and hand it to the analysis's subscribers."""
        now = time.monotonic()
        with self._lock:
            recent = self._recent.pop(delta.analysis_id, None) or _Recent()
            recent.deltas.append(delta)
            recent.touched = now
            self._recent[delta.analysis_id] = recent
            self._expire(now)
            listeners = list(self._subscribers.get(delta.analysis_id, ()))
        for subscription in listeners:
            subscription.put(delta)

    def _expire(self, now: float) -> None:
        while self._recent:
            oldest_id, oldest = next(iter(self._recent.items()))
            if len(self._recent) <= MAX_ANALYSES and now - oldest.touched < KEEP_S:
                return
            del self._recent[oldest_id]

    def subscribe(self, analysis_id: str) -> Subscription:
        covered = self.covers(analysis_id)
        created = created_ms(analysis_id) or 0
        young = time.time_ns() // 1_000_000 - created < NO_DELTAS_YET_S * 1000
        with self._lock:
            recent = self._recent.get(analysis_id)
            covered = covered and (recent is not None or young)
            history = list(recent.deltas) if recent else []
            subscription = Subscription(analysis_id, history, covered)
            self._subscribers.setdefault(analysis_id, []).append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            listeners = self._subscribers.get(subscription.analysis_id, [])
            if subscription in listeners:
                listeners.remove(subscription)
            if not listeners:
                self._subscribers.pop(subscription.analysis_id, None)

    def open_streams(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())

"""One place to wait for an analysis's answer: `ResponseWaiter.wait(analysis_id, deadline)`.

An answer reaches the app two ways: on the responses topic (every process
follows it from the end with a `TopicFollower`, assigned every partition rather
than in a group, since a group would hand a worker's responses to another
worker) and in the result store (the scorer writes Redis *before* it
publishes). `wait` combines them so that no answer is missed:

- the caller's slot is registered first, so any response the follower reads
  from then on is handed to it;
- once the follower is positioned (`ready`), the store is checked once: an
  answer published before the follower read the topic's end is already there;
- until the follower is ready (start-up, broker away), the store is polled.

Register early with `expect` around the publish when even the short gap
between publishing and calling `wait` matters (the sync API does: with Redis
down, the topic is the only way the answer arrives).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from pydantic import ValidationError

from schemas.response import AnalysisResponded
from services.common.follower import TopicFollower, follower_config
from services.common.kafka_security import KafkaSecurity
from strategist.analysis.store import StoreUnavailable

logger = logging.getLogger(__name__)

STORE_POLL_S = 0.5
"""While the follower is not positioned, the result store is checked this often."""
FOLLOWER_NAME = "strategist-responses"


class ResultSource(Protocol):
    def result(self, analysis_id: str) -> AnalysisResponded | None: ...


class Slot:
    """Where one waiting request receives its response."""

    def __init__(self, analysis_id: str) -> None:
        self.analysis_id = analysis_id
        self._event = threading.Event()
        self.response: AnalysisResponded | None = None
        self.on_deliver: list[Callable[[], None]] = []
        """Called (on the follower's thread) once the response is in: an event stream
        waiting on its deltas wakes at once."""

    def deliver(self, response: AnalysisResponded) -> None:
        self.response = response
        self._event.set()
        for wake in list(self.on_deliver):
            wake()

    def wait(self, timeout_s: float) -> AnalysisResponded | None:
        """The response, or None when `timeout_s` passed without one."""
        self._event.wait(max(timeout_s, 0.0))
        return self.response


class ResponseWaiter:
    """The process's responses follower, the table of waiting requests, and the store.

    Nothing connects in `__init__`; `start()` launches the follower (idempotent, and
    again in a forked child, whose copy of the parent's thread does not exist).
    """

    def __init__(
        self,
        *,
        store: ResultSource,
        consumer_config: dict[str, Any],
        topic: str,
        prepare: Callable[[], object] | None = None,
    ) -> None:
        """`prepare` runs once the broker answers, before positioning: the app passes
        idempotent topic creation, so a fresh namespace works before any service started."""
        self._store = store
        self._slots: dict[str, Slot] = {}
        self._lock = threading.Lock()
        self._follower = TopicFollower(
            name=FOLLOWER_NAME,
            config=consumer_config,
            topic=topic,
            start_at="end",
            on_record=self._on_record,
            prepare=prepare,
        )
        self.delivered = 0

    @staticmethod
    def config(bootstrap_servers: str, *, security: KafkaSecurity) -> dict[str, Any]:
        return follower_config(bootstrap_servers, owner="strategist-app", security=security)

    # --- the follower ----------------------------------------------------------------

    def start(self) -> None:
        self._follower.start()

    def stop(self) -> None:
        self._follower.stop()

    def wait_ready(self, timeout_s: float) -> bool:
        """True once the follower is positioned on every partition."""
        return self._follower.wait_ready(timeout_s)

    @property
    def ready(self) -> bool:
        return self._follower.ready

    @property
    def failing(self) -> bool:
        """True after a start-up attempt failed (broker unreachable), until one succeeds."""
        return self._follower.failing

    def _on_record(
        self, key: bytes | None, value: bytes | None, _partition: int, _offset: int
    ) -> None:
        self.dispatch(key, value)

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

    # --- the waiting side (request threads) ------------------------------------------

    @contextmanager
    def expect(self, analysis_id: str) -> Iterator[Slot]:
        """Register a slot for `analysis_id` for the block (reusing one already there)."""
        with self._lock:
            slot = self._slots.get(analysis_id)
            owner = slot is None
            if slot is None:
                slot = self._slots[analysis_id] = Slot(analysis_id)
        try:
            yield slot
        finally:
            if owner:
                with self._lock:
                    if self._slots.get(analysis_id) is slot:
                        del self._slots[analysis_id]

    def waiting(self) -> int:
        with self._lock:
            return len(self._slots)

    def wait(self, analysis_id: str, deadline: float) -> AnalysisResponded | None:
        """The answer for `analysis_id`, or None when `deadline` (time.monotonic()) passed."""
        with self.expect(analysis_id) as slot:
            checked_since_ready = False
            while True:
                if slot.response is not None:
                    return slot.response
                if not checked_since_ready:
                    ready = self.ready
                    found = self._stored(analysis_id)
                    if found is not None:
                        return found
                    checked_since_ready = ready
                left = deadline - time.monotonic()
                if left <= 0:
                    return slot.response or self._stored(analysis_id)
                slot.wait(left if checked_since_ready else min(left, STORE_POLL_S))

    def _stored(self, analysis_id: str) -> AnalysisResponded | None:
        try:
            return self._store.result(analysis_id)
        except StoreUnavailable as err:  # the topic may still bring it
            logger.debug("result check for %s failed: %s", analysis_id, err)
            return None

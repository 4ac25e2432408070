"""AnalysisService: the orchestration layer behind the API.

It decides the path per request (intelligent routing through Kafka, or the
legacy direct Gemini call), hands queries to the pipeline, waits for their
responses, and falls back to the direct path when the pipeline cannot take a
query. It knows nothing of HTTP; the blueprint in `router.py` maps its outcomes
to status codes.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from schemas.base import new_id
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.pipeline import PipelineUnavailable
from strategist.request import AnalysisRequest
from strategist.rollout import RoutingDecision, decide
from strategist.settings import RoutingSettings
from strategist.store import StoreUnavailable
from strategist.waiter import Slot

logger = logging.getLogger(__name__)

REDIS_POLL_S = 0.5
"""While the responses consumer is not yet positioned, Redis is checked this often."""
ANALYSIS_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Publisher(Protocol):
    def publish(self, query: QueryRequested) -> None: ...


class Waiter(Protocol):
    def start(self) -> None: ...

    def expect(self, analysis_id: str) -> Any: ...

    def wait_ready(self, timeout_s: float) -> bool: ...

    @property
    def ready(self) -> bool: ...

    @property
    def failing(self) -> bool: ...


class Store(Protocol):
    def result(self, analysis_id: str) -> AnalysisResponded | None: ...

    def pending(self, analysis_id: str) -> dict[str, Any] | None: ...

    def mark_pending(self, analysis_id: str, *, path: str, campaign_id: str | None) -> None: ...

    def save(self, response: AnalysisResponded) -> None: ...


class Direct(Protocol):
    def analyze(self, query: QueryRequested, *, reason: str) -> AnalysisResponded: ...


@dataclass(frozen=True)
class Outcome:
    """A finished analysis (`response`), or one still in progress (`response` is None)."""

    analysis_id: str
    response: AnalysisResponded | None
    state: Literal["done", "pending"]

    @classmethod
    def done(cls, response: AnalysisResponded) -> Outcome:
        return cls(response.analysis_id, response, "done")

    @classmethod
    def pending(cls, analysis_id: str) -> Outcome:
        return cls(analysis_id, None, "pending")


class AnalysisService:
    """Runs analyses; every dependency is injected and connects lazily."""

    def __init__(
        self,
        *,
        routing: RoutingSettings,
        publisher: Publisher,
        waiter: Waiter,
        store: Store,
        direct: Direct,
        background: Executor,
        sync_timeout_s: float,
        pipeline_wait_s: float,
    ) -> None:
        """`pipeline_wait_s` bounds how long a process's first publish waits for the
        responses consumer to start (it also creates the topics of a fresh namespace)."""
        self._routing = routing
        self._publisher = publisher
        self._waiter = waiter
        self._store = store
        self._direct = direct
        self._background = background
        self._sync_timeout_s = sync_timeout_s
        self._pipeline_wait_s = pipeline_wait_s

    def route_for(self, campaign_id: str | None) -> RoutingDecision:
        return decide(self._routing, campaign_id)

    # --- POST /analyze ------------------------------------------------------------------

    def analyze(self, request: AnalysisRequest) -> Outcome:
        """Answer within the sync deadline, or report the analysis pending (it goes on)."""
        deadline = time.monotonic() + self._sync_timeout_s
        query = request.to_event(new_id())
        decision = self.route_for(query.campaign_id)
        if not decision.routed:
            return Outcome.done(self._direct_and_store(query, decision.reason))

        with self._waiter.expect(query.query_id) as slot:
            self._try_mark_pending(query, "intelligent")
            try:
                self._publish(query)
            except PipelineUnavailable as err:
                return Outcome.done(self._direct_and_store(query, self._fallback_reason(err)))
            response = self._await(slot, deadline)
        if response is None:
            logger.info(
                "analysis=%s not finished within %.1fs; answering 202",
                query.query_id,
                self._sync_timeout_s,
            )
            return Outcome.pending(query.query_id)
        return Outcome.done(response)

    def _await(self, slot: Slot, deadline: float) -> AnalysisResponded | None:
        """The response from the consumer, or from Redis where the consumer may have missed it.

        Redis is checked once after the consumer is positioned (anything published before
        that is already in Redis), then the slot is awaited; until the consumer is ready,
        Redis is polled.
        """
        checked_since_ready = False
        while True:
            if slot.response is not None:
                return slot.response
            if not checked_since_ready:
                ready = self._waiter.ready
                found = self._peek(slot.analysis_id)
                if found is not None:
                    return found
                checked_since_ready = ready
            left = deadline - time.monotonic()
            if left <= 0:
                return slot.response or self._peek(slot.analysis_id)
            slot.wait(left if checked_since_ready else min(left, REDIS_POLL_S))

    # --- POST /analyses -----------------------------------------------------------------

    def submit(self, request: AnalysisRequest) -> str:
        """Accept an analysis and return its id at once; raises StoreUnavailable without
        Redis (the caller could never read the result)."""
        query = request.to_event(new_id())
        decision = self.route_for(query.campaign_id)
        path = "intelligent" if decision.routed else "direct"
        self._store.mark_pending(query.query_id, path=path, campaign_id=query.campaign_id)
        if not decision.routed:
            self._background.submit(self._in_background, query, decision.reason)
            return query.query_id
        try:
            self._publish(query)
        except PipelineUnavailable as err:
            self._background.submit(self._in_background, query, self._fallback_reason(err))
        return query.query_id

    # --- GET /analyses/<id> -------------------------------------------------------------

    def status(self, analysis_id: str) -> Outcome | None:
        """Done, pending, or None when unknown (or expired); raises StoreUnavailable."""
        if not ANALYSIS_ID.match(analysis_id):
            return None
        response = self._store.result(analysis_id)
        if response is not None:
            return Outcome.done(response)
        if self._store.pending(analysis_id) is not None:
            return Outcome.pending(analysis_id)
        return None

    # --- helpers ------------------------------------------------------------------------

    def _publish(self, query: QueryRequested) -> None:
        """Hand the query to Kafka; raises PipelineUnavailable.

        The first publish of a process waits (briefly) for the responses consumer, whose
        start-up creates missing topics; once the broker is known to be unreachable, it
        does not wait again, so the fallback stays as fast as the producer's timeout.
        """
        self._waiter.start()
        if not self._waiter.ready and not self._waiter.failing:
            self._waiter.wait_ready(self._pipeline_wait_s)
        self._publisher.publish(query)

    @staticmethod
    def _fallback_reason(err: PipelineUnavailable) -> str:
        logger.error("event pipeline unavailable, answering via the direct path: %s", err)
        return f"Emergency fallback: the event pipeline (Kafka) is unreachable ({err})"

    def _direct_and_store(self, query: QueryRequested, reason: str) -> AnalysisResponded:
        response = self._direct.analyze(query, reason=reason)
        try:
            self._store.save(response)
        except StoreUnavailable as err:
            logger.warning("analysis=%s not stored: %s", query.query_id, err)
        return response

    def _in_background(self, query: QueryRequested, reason: str) -> None:
        try:
            self._direct_and_store(query, reason)
        except Exception:  # nobody waits on this thread: log, the marker expires by TTL
            logger.exception("background direct analysis %s failed", query.query_id)

    def _try_mark_pending(self, query: QueryRequested, path: str) -> None:
        try:
            self._store.mark_pending(query.query_id, path=path, campaign_id=query.campaign_id)
        except StoreUnavailable as err:  # the sync caller still gets its answer
            logger.warning("analysis=%s pending marker not stored: %s", query.query_id, err)

    def _peek(self, analysis_id: str) -> AnalysisResponded | None:
        try:
            return self._store.result(analysis_id)
        except StoreUnavailable as err:
            logger.debug("result check for %s failed: %s", analysis_id, err)
            return None

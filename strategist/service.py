"""AnalysisService: the orchestration layer behind the API.

It decides the path per request (intelligent routing through Kafka, or the
direct Gemini call), hands queries to the pipeline, waits for their
responses, and falls back to the direct path when the pipeline cannot take a
query. It knows nothing of HTTP; the blueprint in `router.py` maps its outcomes
to status codes.

A synchronous caller holds one of the server's request threads while it waits.
At most `sync_wait_limit` callers per process wait at once (set it below the
server's thread count); the others are accepted as asynchronous analyses
(202 with a status URL) and their work goes on, so threads are always left for
`/healthz`, `/readyz` and status polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.analysis.archive import ArchiveUnavailable
from strategist.analysis.ids import ANALYSIS_ID, new_analysis_id
from strategist.analysis.pipeline import PipelineUnavailable
from strategist.analysis.rollout import RoutingDecision, rollout_decision
from strategist.analysis.store import StoreUnavailable
from strategist.request import AnalysisRequest
from strategist.settings import RoutingSettings

logger = logging.getLogger(__name__)

STORE_RETRY_WINDOW_S = 600.0
"""A direct answer whose Redis write failed is written again for this long."""
STORE_FIRST_RETRY_S = 0.5
STORE_MAX_RETRY_S = 10.0

__all__ = ["ANALYSIS_ID", "AnalysisService", "Outcome"]


class Publisher(Protocol):
    def publish(self, query: QueryRequested) -> None: ...


class AnswerRecorder(Protocol):
    def record(self, response: AnalysisResponded) -> None: ...


class Waiter(Protocol):
    def start(self) -> None: ...

    def expect(self, analysis_id: str) -> Any: ...

    def wait(self, analysis_id: str, deadline: float) -> AnalysisResponded | None: ...

    def wait_ready(self, timeout_s: float) -> bool: ...

    @property
    def ready(self) -> bool: ...

    @property
    def failing(self) -> bool: ...


class Store(Protocol):
    def result(self, analysis_id: str) -> AnalysisResponded | None: ...

    def pending(self, analysis_id: str) -> dict[str, Any] | None: ...

    def mark_pending(self, analysis_id: str, *, path: str, campaign_id: str | None) -> None: ...

    def save(self, response: AnalysisResponded) -> bool: ...


class Archive(Protocol):
    """The durable record on the topics (see analysis/archive.py)."""

    def find(self, analysis_id: str) -> AnalysisResponded | None: ...

    def accepted(self, analysis_id: str) -> QueryRequested | None: ...


class Direct(Protocol):
    def analyze(self, query: QueryRequested, *, reason: str) -> AnalysisResponded: ...


Visible = Callable[[str | None], bool]
"""Whether the caller may see an analysis of this campaign (None: created without one)."""


def _everyone(_campaign_id: str | None) -> bool:
    return True


@dataclass(frozen=True)
class Outcome:
    """A finished analysis (`response`), or one still in progress (`response` is None)."""

    analysis_id: str
    response: AnalysisResponded | None
    state: Literal["done", "pending"]
    campaign_id: str | None = None

    @classmethod
    def done(cls, response: AnalysisResponded) -> Outcome:
        return cls(response.analysis_id, response, "done", response.campaign_id)

    @classmethod
    def pending(cls, analysis_id: str, campaign_id: str | None = None) -> Outcome:
        return cls(analysis_id, None, "pending", campaign_id)


class AnalysisService:
    """Runs analyses; every dependency is injected and connects lazily."""

    def __init__(
        self,
        *,
        routing: RoutingSettings,
        publisher: Publisher,
        recorder: AnswerRecorder,
        waiter: Waiter,
        store: Store,
        archive: Archive,
        direct: Direct,
        background: Executor,
        sync_timeout_s: float,
        pipeline_wait_s: float,
        sync_wait_limit: int,
    ) -> None:
        """`pipeline_wait_s` bounds how long a process's first publish waits for the
        responses follower to start (it also creates the topics of a fresh namespace);
        `sync_wait_limit` bounds the callers of `analyze` waiting at once."""
        self._routing = routing
        self._publisher = publisher
        self._recorder = recorder
        self._waiter = waiter
        self._store = store
        self._archive = archive
        self._direct = direct
        self._background = background
        self._sync_timeout_s = sync_timeout_s
        self._pipeline_wait_s = pipeline_wait_s
        self._sync_waits = threading.BoundedSemaphore(sync_wait_limit)

    def route_for(self, campaign_id: str | None) -> RoutingDecision:
        return rollout_decision(self._routing, campaign_id)

    # --- POST /analyze ------------------------------------------------------------------

    def analyze(self, request: AnalysisRequest, *, keyed: bool = False) -> Outcome:
        """Answer within the sync deadline, or report the analysis pending (it goes on).

        When `sync_wait_limit` callers already wait in this process, the analysis is
        accepted as in `submit` and reported pending at once; raises StoreUnavailable
        then if Redis is down (the caller could not poll for the answer).
        `keyed`: the request came with an API key (the id says so; see `analysis/ids.py`).
        """
        if not self._sync_waits.acquire(blocking=False):
            analysis_id = self.submit(request, keyed=keyed)
            logger.info("analysis=%s accepted async: every sync wait slot is busy", analysis_id)
            return Outcome.pending(analysis_id, request.campaign_id)
        try:
            return self._analyze(request, time.monotonic() + self._sync_timeout_s, keyed)
        finally:
            self._sync_waits.release()

    def _analyze(self, request: AnalysisRequest, deadline: float, keyed: bool) -> Outcome:
        analysis_id = new_analysis_id(keyed=keyed)
        query = request.to_event(analysis_id)
        decision = self.route_for(query.campaign_id)
        if not decision.routed:
            return Outcome.done(self._direct_and_store(query, decision.reason))

        with self._waiter.expect(analysis_id):
            self._try_mark_pending(query, "intelligent")
            try:
                self._publish(query)
            except PipelineUnavailable as err:
                return Outcome.done(self._direct_and_store(query, self._fallback_reason(err)))
            response = self._waiter.wait(analysis_id, deadline)
        if response is None:
            logger.info(
                "analysis=%s not finished within %.1fs; answering 202",
                analysis_id,
                self._sync_timeout_s,
            )
            return Outcome.pending(analysis_id, query.campaign_id)
        return Outcome.done(response)

    # --- POST /analyses -----------------------------------------------------------------

    def submit(self, request: AnalysisRequest, *, keyed: bool = False) -> str:
        """Accept an analysis and return its id at once; raises StoreUnavailable without
        Redis (the caller could never read the result)."""
        analysis_id = new_analysis_id(keyed=keyed)
        query = request.to_event(analysis_id)
        decision = self.route_for(query.campaign_id)
        path = "intelligent" if decision.routed else "direct"
        self._store.mark_pending(analysis_id, path=path, campaign_id=query.campaign_id)
        if not decision.routed:
            self._background.submit(self._in_background, query, decision.reason)
            return analysis_id
        try:
            self._publish(query)
        except PipelineUnavailable as err:
            self._background.submit(self._in_background, query, self._fallback_reason(err))
        return analysis_id

    # --- GET /analyses/<id> -------------------------------------------------------------

    def status(self, analysis_id: str, *, visible: Visible = _everyone) -> Outcome | None:
        """Done, pending, or None when unknown (or expired) or not `visible` to the caller
        (another campaign's analysis is answered exactly as an unknown one).

        Redis first; when it knows nothing of the id (it may have lost its data) or is
        unreachable, the durable record (the responses topic). Raises StoreUnavailable
        when neither could say.
        """
        outcome = self._status(analysis_id)
        if outcome is None or not visible(outcome.campaign_id):
            return None
        return outcome

    def _status(self, analysis_id: str) -> Outcome | None:
        if not ANALYSIS_ID.match(analysis_id):
            return None
        store_error: StoreUnavailable | None = None
        try:
            response = self._store.result(analysis_id)
            if response is not None:
                return Outcome.done(response)
            marker = self._store.pending(analysis_id)
            if marker is not None:
                campaign = marker.get("campaign_id")
                return Outcome.pending(analysis_id, campaign if isinstance(campaign, str) else None)
        except StoreUnavailable as err:
            store_error = err
        try:
            archived = self._archive.find(analysis_id)
        except ArchiveUnavailable as err:
            logger.warning("analysis=%s: archive lookup failed: %s", analysis_id, err)
            raise store_error or StoreUnavailable(str(err)) from err
        if archived is not None:
            logger.info("analysis=%s answered from the responses topic", analysis_id)
            if store_error is None:
                self._try_save(archived)  # later reads are fast again
            return Outcome.done(archived)
        if store_error is not None:
            raise store_error
        try:
            query = self._archive.accepted(analysis_id)
            if query is not None:
                logger.info("analysis=%s on the queries topic, not answered yet", analysis_id)
                return Outcome.pending(analysis_id, query.campaign_id)
        except ArchiveUnavailable as err:
            raise StoreUnavailable(str(err)) from err
        return None

    # --- helpers ------------------------------------------------------------------------

    def _publish(self, query: QueryRequested) -> None:
        """Hand the query to Kafka; raises PipelineUnavailable.

        The first publish of a process waits (briefly) for the responses follower, whose
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
        """The direct answer, stored first-answer-wins; when the pipeline's answer was
        stored first (the query got through after all), that one is the answer."""
        response = self._direct.analyze(query, reason=reason)
        try:
            stored = self._store.save(response)
        except StoreUnavailable as err:
            logger.warning(
                "analysis=%s not stored yet, retrying in the background: %s",
                query.analysis_id,
                err,
            )
            self._background.submit(self._store_until_saved, response)
            stored = True  # nothing to defer to now
        if not stored:
            try:
                earlier = self._store.result(query.analysis_id)
            except StoreUnavailable:
                earlier = None
            if earlier is not None:
                logger.info("analysis=%s: the pipeline answered first", query.analysis_id)
                return earlier
        self._recorder.record(response)
        return response

    def _store_until_saved(self, response: AnalysisResponded) -> None:
        """Retry the result write with backoff while Redis is away (the answer was given,
        or will be polled for: it must not be lost)."""
        delay_s = STORE_FIRST_RETRY_S
        give_up_at = time.monotonic() + STORE_RETRY_WINDOW_S
        while time.monotonic() < give_up_at:
            time.sleep(delay_s)
            try:
                self._store.save(response)
                logger.info("analysis=%s stored after a Redis outage", response.analysis_id)
                return
            except StoreUnavailable as err:
                logger.warning("analysis=%s still not stored: %s", response.analysis_id, err)
            delay_s = min(delay_s * 2, STORE_MAX_RETRY_S)
        logger.error("analysis=%s never stored in Redis (it is on the topic)", response.analysis_id)

    def _in_background(self, query: QueryRequested, reason: str) -> None:
        try:
            self._direct_and_store(query, reason)
        except Exception:  # nobody waits on this thread: log, the marker expires by TTL
            logger.exception("background direct analysis %s failed", query.analysis_id)

    def _try_mark_pending(self, query: QueryRequested, path: str) -> None:
        try:
            self._store.mark_pending(query.analysis_id, path=path, campaign_id=query.campaign_id)
        except StoreUnavailable as err:  # the sync caller still gets its answer
            logger.warning("analysis=%s pending marker not stored: %s", query.analysis_id, err)

    def _try_save(self, response: AnalysisResponded) -> None:
        try:
            self._store.save(response)
        except StoreUnavailable as err:
            logger.debug("analysis=%s not re-stored: %s", response.analysis_id, err)

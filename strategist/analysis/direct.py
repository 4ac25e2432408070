"""The direct path: one Gemini 2.5 Pro call, no Kafka.

It answers when intelligent routing is off for a campaign (flag off, or outside
the rollout) and, as the emergency fallback, when the event pipeline cannot take
a query. The answer is scored and shaped by the scorer's own functions, so both
paths return the same body; `routing.path` is "direct" and the explanation says why.

The call is paid from the campaign's monthly budget by the dispatcher's own sequence
(`services.common.campaign_spend`: the same books, the same rules): its maximum cost is
held before the call and settled after (the real cost; the maximum on a timeout; nothing
on an error).
When the budget cannot cover it, the answer is a failed response whose error starts
with `budget_exhausted` (the API's 402), as from the pipeline. When the books cannot
be reached (Redis down), the call is not made: money is never spent unguarded.
The books are asyncio (`SpendLedger`), run on this process's loop like the provider.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import redis

from core.attempt import AttemptResult, attempt_model, completion_request
from core.confidence import History, score_answer
from core.economics import baseline_cost_usd
from core.response import build_response
from providers.base import Provider
from providers.catalogue import GEMINI_PRO, Catalogue, ModelSpec
from providers.errors import ProviderTimeout
from schemas.base import ProviderName
from schemas.parts import AttemptSummary
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.common.campaign_spend import CampaignSpend, Hold
from services.common.failures import retry_delay_s
from services.common.spend import SpendLedger
from strategist.analysis.loop import LoopRunner

logger = logging.getLogger(__name__)

DIRECT_PROVIDER: ProviderName = "gemini"
DIRECT_MODEL = GEMINI_PRO
BOOKS_TIMEOUT_S = 10.0
"""Bound on one reserve or settle in the books (Redis, with its client's own retries)."""
BOOKS_RETRY_WINDOW_S = 6.0
"""How long a reservation is retried while Redis is unreachable (a restart takes a second
or two): the direct path answers precisely when the infrastructure is in trouble."""
BOOKS_UNAVAILABLE = "spend_unavailable"
"""The error prefix when the campaign's books could not be read: the call is not made."""


class DirectAnalyzer:
    """Answers a query with a direct Gemini call, from synchronous (Flask) code."""

    def __init__(
        self,
        *,
        provider: Provider,
        catalogue: Catalogue,
        runner: LoopRunner,
        timeout_s: float,
        ledger: SpendLedger | None = None,
    ) -> None:
        """`ledger` (on `runner`'s loop) holds each call against its campaign's budget;
        without one, or for a query without a campaign, calls are not booked."""
        self._provider = provider
        self._ledger = ledger
        self._spec: ModelSpec = catalogue.get(DIRECT_PROVIDER, DIRECT_MODEL)
        self._catalogue = catalogue
        self._runner = runner
        self._timeout_s = timeout_s

    def analyze(self, query: QueryRequested, *, reason: str) -> AnalysisResponded:
        """The scored response; status "failed" (with the error) when Gemini did not answer,
        or was not called: `budget_exhausted: ...` when the campaign's limit cannot cover
        the call, `spend_unavailable: ...` when its books cannot be reached.

        `reason` is the plain-language why of taking this path, for the explanation.
        """
        spec = self._spec
        booked = self._hold(query)
        if isinstance(booked, str):
            return self._unpaid(query, reason=reason, error=booked)
        result = self._call(query)
        remaining_usd = self._settle(*booked, result)
        answer = result.answer
        if result.error is not None:
            logger.warning(
                "direct path: analysis=%s gemini failed (%s)",
                query.analysis_id,
                result.error.kind,
            )

        confidence = None
        if answer is not None:
            confidence = score_answer(
                answer=answer,
                spec=spec,
                route=[],
                needs_live_data=False,  # no classifier on this path: nothing to hold against
                agreement=None,
                history=History(),  # neutral prior; the direct path keeps no history
            )
        return build_response(
            query=query,
            path="direct",
            classification=None,
            route=[],
            attempts=[result.summary],
            answer=answer,
            confidence=confidence,
            error=str(result.error) if result.error is not None else None,
            direct_reason=reason,
            baseline_cost_usd=baseline_cost_usd(self._catalogue, answer),
            budget_remaining_usd=remaining_usd,
        )

    def _hold(self, query: QueryRequested) -> tuple[CampaignSpend, Hold] | str:
        """The campaign's books and the call's hold (the same sequence as the dispatcher's,
        `services.common.campaign_spend`), or the error that stops the call."""
        spec = self._spec
        request = completion_request(query, spec, self._timeout_s)
        call_id = f"direct:{query.analysis_id}:{uuid.uuid4().hex}"  # each call is an expense

        async def open_and_hold() -> tuple[CampaignSpend, Hold | None]:
            spend = await CampaignSpend.open(self._ledger, query.campaign_id, delivery=call_id)
            return spend, await spend.hold(spec, request, call_id, hold_s=self._timeout_s + 1.0)

        outcome = self._patiently(query.analysis_id, open_and_hold)
        if isinstance(outcome, BaseException):
            logger.error(
                "direct path: analysis=%s not called, spend books unavailable (%s)",
                query.analysis_id,
                type(outcome).__name__,
            )
            return (
                f"{BOOKS_UNAVAILABLE}: the campaign's spend books (Redis) cannot be reached, "
                "so no paid call was made; retry"
            )
        spend, hold = outcome
        if hold is None:
            return spend.exhausted_error(None)
        return spend, hold

    def _patiently(
        self,
        analysis_id: str,
        books_step: Callable[[], Coroutine[Any, Any, tuple[CampaignSpend, Hold | None]]],
    ) -> tuple[CampaignSpend, Hold | None] | BaseException:
        """The books' answer, retried with backoff for `BOOKS_RETRY_WINDOW_S` while Redis
        is unreachable; the last error when it stays away."""
        give_up_at = time.monotonic() + BOOKS_RETRY_WINDOW_S
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._runner.run(books_step(), BOOKS_TIMEOUT_S)
            except (redis.RedisError, TimeoutError) as err:
                delay_s = retry_delay_s(attempt)
                if time.monotonic() + delay_s >= give_up_at:
                    return err
                logger.warning(
                    "direct path: analysis=%s spend books unavailable (%s); retrying in %.1fs",
                    analysis_id,
                    type(err).__name__,
                    delay_s,
                )
                time.sleep(delay_s)

    def _settle(self, spend: CampaignSpend, hold: Hold, result: AttemptResult) -> float | None:
        """Book the call by its outcome; what the limit leaves (None: no limit, or the books
        could not be reached). A failure is logged, not raised: the caller gets the answer
        it paid for, and the reservation lapses at its full amount."""
        try:
            self._runner.run(spend.settle(hold, result.summary), BOOKS_TIMEOUT_S)
        except (redis.RedisError, TimeoutError) as err:
            logger.warning(
                "direct path: reservation=%s not settled (%s); it lapses at its full amount",
                hold.reservation_id,
                type(err).__name__,
            )
            return None
        return None if spend.last is None else spend.last.remaining_usd

    def _unpaid(self, query: QueryRequested, *, reason: str, error: str) -> AnalysisResponded:
        """The failed response of a call that was not made (budget, or no books)."""
        spec = self._spec
        skipped = AttemptSummary(
            provider=DIRECT_PROVIDER,
            model=spec.model_id,
            outcome="skipped",
            error_kind=error.split(":", 1)[0],
            error_message=error,
        )
        return build_response(
            query=query,
            path="direct",
            classification=None,
            route=[],
            attempts=[skipped],
            answer=None,
            confidence=None,
            error=error,
            direct_reason=reason,
        )

    def _call(self, query: QueryRequested) -> AttemptResult:
        """One Gemini call, within the path's timeout even if the loop is stuck."""
        spec = self._spec
        try:
            return self._runner.run(
                attempt_model(
                    provider=self._provider, spec=spec, query=query, timeout_s=self._timeout_s
                ),
                self._timeout_s + 1.0,
            )
        except TimeoutError:  # the loop itself did not finish in time
            timeout = ProviderTimeout(DIRECT_PROVIDER, f"no answer within {self._timeout_s:.1f}s")
            return AttemptResult(
                summary=AttemptSummary(
                    provider=DIRECT_PROVIDER,
                    model=spec.model_id,
                    outcome="timeout",
                    error_kind=timeout.kind,
                    error_message=timeout.message,
                    latency_ms=(self._timeout_s + 1.0) * 1000.0,
                ),
                error=timeout,
            )

"""The legacy direct path: one Gemini 2.5 Pro call, no Kafka.

It answers when intelligent routing is off for a campaign (flag off, or outside
the rollout) and, as the emergency fallback, when the event pipeline cannot take
a query. The answer is scored and shaped by the scorer's own functions, so both
paths return the same body; `routing.path` is "direct" and the explanation says why.
"""

from __future__ import annotations

import logging

from core.attempt import AttemptResult, attempt_model
from core.confidence import History, score_answer
from core.economics import baseline_cost_usd
from core.response import build_response
from providers.base import Provider
from providers.catalogue import GEMINI_PRO, Catalogue, ModelSpec
from providers.errors import ProviderTimeout
from schemas.base import ProviderName
from schemas.completion import AttemptSummary
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from strategist.loop import LoopRunner

logger = logging.getLogger(__name__)

DIRECT_PROVIDER: ProviderName = "gemini"
DIRECT_MODEL = GEMINI_PRO


class DirectAnalyzer:
    """Answers a query with a direct Gemini call, from synchronous (Flask) code."""

    def __init__(
        self,
        *,
        provider: Provider,
        catalogue: Catalogue,
        runner: LoopRunner,
        timeout_s: float,
    ) -> None:
        self._provider = provider
        self._spec: ModelSpec = catalogue.get(DIRECT_PROVIDER, DIRECT_MODEL)
        self._catalogue = catalogue
        self._runner = runner
        self._timeout_s = timeout_s

    def analyze(self, query: QueryRequested, *, reason: str) -> AnalysisResponded:
        """The scored response; status "failed" (with the error) when Gemini did not answer.

        `reason` is the plain-language why of taking this path, for the explanation.
        """
        spec = self._spec
        try:
            result = self._runner.run(
                attempt_model(
                    provider=self._provider, spec=spec, query=query, timeout_s=self._timeout_s
                ),
                self._timeout_s + 1.0,
            )
        except TimeoutError:  # the loop itself did not finish in time
            timeout = ProviderTimeout(DIRECT_PROVIDER, f"no answer within {self._timeout_s:.1f}s")
            result = AttemptResult(
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
        answer = result.answer
        if result.error is not None:
            logger.warning(
                "direct path: query=%s gemini failed (%s)", query.query_id, result.error.kind
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
        )

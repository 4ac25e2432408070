"""The legacy direct path: one Gemini 2.5 Pro call, no Kafka.

It answers when intelligent routing is off for a campaign (flag off, or outside
the rollout) and, as the emergency fallback, when the event pipeline cannot take
a query. The answer is scored and shaped by the scorer's own functions, so both
paths return the same body; `routing.path` is "direct" and the explanation says why.
"""

from __future__ import annotations

import logging
import time

from providers.base import CompletionRequest, Provider
from providers.catalogue import GEMINI_PRO, Catalogue, ModelSpec
from providers.errors import ProviderError, ProviderTimeout
from providers.prompt import SYSTEM_PROMPT, build_prompt
from schemas.base import ProviderName
from schemas.completion import Answer, AttemptSummary, Citation
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from services.scorer.confidence import History, Signals, aggregate
from services.scorer.handler import TRUNCATION_REASONS
from services.scorer.response import build_response
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
        self._runner = runner
        self._timeout_s = timeout_s

    def analyze(self, query: QueryRequested, *, reason: str) -> AnalysisResponded:
        """The scored response; status "failed" (with the error) when Gemini did not answer.

        `reason` is the plain-language why of taking this path, for the explanation.
        """
        spec = self._spec
        max_tokens = min(
            query.options.max_output_tokens or spec.max_output_tokens, spec.max_output_tokens
        )
        request = CompletionRequest(
            prompt=build_prompt(query),
            model=spec.model_id,
            max_output_tokens=max_tokens,
            timeout_s=self._timeout_s,
            system=SYSTEM_PROMPT,
        )
        started = time.monotonic()
        answer: Answer | None = None
        error: ProviderError | None = None
        try:
            reply = self._runner.run(self._provider.complete(request), self._timeout_s + 1.0)
        except ProviderError as err:
            error = err
        except TimeoutError:
            error = ProviderTimeout(DIRECT_PROVIDER, f"no answer within {self._timeout_s:.1f}s")
        latency_ms = round((time.monotonic() - started) * 1000.0, 1)

        if error is None:
            cost = round(spec.cost_usd(reply.input_tokens, reply.output_tokens), 8)
            answer = Answer(
                provider=DIRECT_PROVIDER,
                model=spec.model_id,
                text=reply.text,
                citations=[
                    Citation(url=c.url, title=c.title, date=c.date) for c in reply.citations
                ],
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                cost_usd=cost,
                latency_ms=latency_ms,
                finish_reason=reply.finish_reason,
                avg_logprob=reply.avg_logprob,
                emulated=self._provider.emulated,
            )
            attempt = AttemptSummary(
                provider=DIRECT_PROVIDER,
                model=spec.model_id,
                outcome="success",
                latency_ms=latency_ms,
                cost_usd=cost,
            )
        else:
            logger.warning("direct path: query=%s gemini failed (%s)", query.query_id, error.kind)
            attempt = AttemptSummary(
                provider=DIRECT_PROVIDER,
                model=spec.model_id,
                outcome="timeout" if isinstance(error, ProviderTimeout) else "error",
                error_kind=error.kind,
                error_message=error.message,
                latency_ms=latency_ms,
            )

        confidence = None
        if answer is not None:
            confidence = aggregate(
                Signals(
                    avg_logprob=answer.avg_logprob,
                    citations=answer.citations,
                    needs_live_data=False,  # no classifier on this path: nothing to hold against
                    answered_with_live_search=spec.capabilities.live_web_search,
                    fallback_position=0,
                    truncated=answer.finish_reason in TRUNCATION_REASONS,
                    agreement=None,
                    history=History(),  # neutral prior; the direct path keeps no history
                )
            )
        response = build_response(
            query=query,
            path="direct",
            classification=None,
            route=[],
            attempts=[attempt],
            answer=answer,
            confidence=confidence,
            error=str(error) if error is not None else None,
        )
        explanation = f"{reason}: sent directly to {DIRECT_PROVIDER}/{spec.model_id}. " + (
            f"Answered{' (provider emulator)' if answer.emulated else ''}."
            if answer is not None
            else f"Gemini failed ({attempt.error_kind}) and the direct path has no fallback."
        )
        routing = response.routing.model_copy(update={"explanation": explanation})
        return response.model_copy(update={"routing": routing})

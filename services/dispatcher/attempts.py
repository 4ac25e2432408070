"""One paid attempt: hold its cost, announce it, call the model within its limits, settle.

Every call, a retry of the same model included, is its own attempt: its own attempt id
(`<query_id>:<n>`), its own `started` event acknowledged before the call, its own
reservation in the campaign's books. The call runs as a task registered in
`InFlightAttempts`, so the health stream's "down" can cancel it; a cancelled attempt is
published as `timeout` with `error_kind` `cancelled_marked_down` (audit sees it) and
settled like a timeout (the provider may have billed work we cannot see).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from core.attempt import AttemptResult, attempt_model, completion_request
from providers.base import CompletionRequest, Provider, ProviderReply
from providers.catalogue import ModelSpec
from providers.errors import ProviderTimeout
from providers.limits import ObservedLatency
from schemas.attempt import ProviderAttempt, attempt_id_for
from schemas.base import ProviderName
from schemas.classified import QueryClassified
from schemas.delta import Release
from schemas.parts import AttemptSummary
from schemas.topics import TopicNames
from services.common.campaign_spend import CampaignSpend
from services.common.metrics import record_attempt
from services.common.worker import Outgoing
from services.dispatcher.attempt_trace import attempt_span
from services.dispatcher.deadline import AttemptLimits
from services.dispatcher.delivered import Delivered
from services.dispatcher.deltas import AttemptDeltas, DeltaPublisher
from services.dispatcher.inflight import InFlightAttempts

logger = logging.getLogger(__name__)

CANCELLED_KIND = "cancelled_marked_down"
"""`error_kind` of an attempt cut short because the health stream marked its provider down."""


class MarkedDown(ProviderTimeout):
    """The attempt was cancelled: the health stream marked the provider down during it."""

    kind = CANCELLED_KIND


class _Limited:
    """The provider with the attempt's streaming limits and its text listener written into
    each request, and each answer's latency observed for the model's derived limits
    (providers.limits)."""

    def __init__(
        self,
        provider: Provider,
        limits: AttemptLimits,
        observed: ObservedLatency,
        spec: ModelSpec,
        live: AttemptDeltas | None = None,
    ) -> None:
        self._live = live
        self._provider = provider
        self._limits = limits
        self._observed = observed
        self._spec = spec
        self.name: ProviderName = provider.name
        self.emulated = provider.emulated

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        started = time.monotonic()
        reply = await self._provider.complete(
            dataclasses.replace(
                request,
                first_token_timeout_s=self._limits.first_token_s,
                stall_timeout_s=self._limits.stall_s,
                on_text=None if self._live is None else self._live.text,
            )
        )
        self._observed.record(
            self._spec, first_token_s=reply.first_token_s, total_s=time.monotonic() - started
        )
        return reply

    async def probe(self, timeout_s: float) -> None:
        await self._provider.probe(timeout_s)

    async def aclose(self) -> None:
        return None


@dataclass(frozen=True)
class Attempted:
    """One attempt made: its result, its finished event, and the text a caller reading
    live holds after it (services/dispatcher/delivered.py)."""

    result: AttemptResult
    event: ProviderAttempt
    delivered: Delivered | None


class AttemptRunner:
    """Runs attempts for the route walk; holds no per-query state."""

    def __init__(
        self,
        *,
        providers: dict[ProviderName, Provider],
        publish: Callable[[Outgoing], Awaitable[None]],
        topics: TopicNames,
        inflight: InFlightAttempts,
        observed: ObservedLatency,
    ) -> None:
        self._providers = providers
        self._observed = observed
        self._publish = publish
        self._topics = topics
        self._inflight = inflight

    async def run(
        self,
        classified: QueryClassified,
        spec: ModelSpec,
        number: int,
        limits: AttemptLimits,
        spend: CampaignSpend,
        deltas: DeltaPublisher | None = None,
        *,
        release: Release = "live",
        continued: Delivered | None = None,
    ) -> Attempted | None:
        """Hold the cost, announce, call, settle and describe one attempt; None when the
        campaign's limit cannot cover it. Raises if the announcement fails. With `deltas`,
        its start, text and end are published live as well (services/dispatcher/deltas.py),
        its start saying when its text may be shown (`release`). With `continued`, the
        model is asked to continue that shown text (an assistant prefill)."""
        query_id = classified.query.query_id
        attempt_id = attempt_id_for(query_id, number)
        prefix = continued.text if continued else ""
        request = completion_request(classified.query, spec, limits.total_s, prefix)
        hold = await spend.hold(spec, request, attempt_id, limits.total_s)
        if hold is None:
            return None
        announced = ProviderAttempt(
            query_id=query_id,
            analysis_id=classified.query.analysis_id,
            attempt_id=attempt_id,
            provider=spec.provider,
            model=spec.model_id,
            attempt_number=number,
            outcome="started",
            latency_ms=0.0,
        )
        try:
            await self._publish(Outgoing(self._topics.provider_attempts, spec.provider, announced))
        except BaseException:
            with contextlib.suppress(Exception):
                await spend.release(hold)
            raise
        live = None
        if deltas is not None:
            live = deltas.attempt(
                attempt_id=attempt_id,
                number=number,
                provider=spec.provider,
                model=spec.model_id,
                release=release,
                continued=continued,
            )
        with attempt_span(classified, spec, number) as traced:
            result = await self._call(classified, spec, limits, live, prefix)
            traced.result(result)
        await spend.settle(hold, result.summary)
        summary, answer = result.summary, result.answer
        if live is not None:
            if answer is not None:
                await live.succeeded(answer.text)
            else:
                await live.failed(summary)
        if result.error is not None:
            logger.info(
                "query=%s %s/%s attempt %d %s (%s) after %.0f ms of %.1f s",
                query_id, spec.provider, spec.model_id, number, summary.outcome,
                summary.error_kind, summary.latency_ms, limits.total_s,
            )  # fmt: skip
        event = ProviderAttempt(
            query_id=query_id,
            analysis_id=classified.query.analysis_id,
            attempt_id=attempt_id,
            provider=spec.provider,
            model=spec.model_id,
            attempt_number=number,
            outcome=summary.outcome,  # type: ignore[arg-type]  # never "skipped" here
            error_kind=summary.error_kind,
            error_message=summary.error_message,
            latency_ms=summary.latency_ms,
            input_tokens=answer.input_tokens if answer else 0,
            output_tokens=answer.output_tokens if answer else 0,
            cost_usd=summary.cost_usd,
            provider_service_ms=summary.provider_service_ms,
            first_token_ms=None if live is None else live.first_token_ms,
        )
        record_attempt(event, campaign_id=classified.query.campaign_id)
        return Attempted(result, event, continued if live is None else live.delivered())

    async def _call(
        self,
        classified: QueryClassified,
        spec: ModelSpec,
        limits: AttemptLimits,
        live: AttemptDeltas | None = None,
        prefix: str = "",
    ) -> AttemptResult:
        """The call as a cancellable task; a cancellation by the health stream is a result,
        any other cancellation (shutdown) propagates."""
        started = time.monotonic()
        task: asyncio.Task[AttemptResult] = asyncio.create_task(
            attempt_model(
                provider=_Limited(
                    self._providers[spec.provider],
                    limits,
                    self._observed,
                    spec,
                    live,
                ),
                spec=spec,
                query=classified.query,
                timeout_s=limits.total_s,
                prefix=prefix,
            )
        )
        with self._inflight.track(spec.provider, task):
            try:
                return await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                ours = current is not None and current.cancelling() > 0
                if ours or not self._inflight.was_cancelled(task):
                    raise
        elapsed_ms = round((time.monotonic() - started) * 1000.0, 1)
        error = MarkedDown(
            spec.provider,
            f"cancelled after {elapsed_ms:.0f} ms: the health stream marked the provider down",
        )
        summary = AttemptSummary(
            provider=spec.provider,
            model=spec.model_id,
            outcome="timeout",
            error_kind=error.kind,
            error_message=error.message,
            latency_ms=elapsed_ms,
        )
        return AttemptResult(summary=summary, error=error)

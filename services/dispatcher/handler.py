"""Dispatch one classified query along its route, failing over provider by provider.

No Kafka here: the handler receives a model and returns the events to publish.
Provider clients, the catalogue, the health view and the completion cache are
injected, so tests can give it real clients pointed at the emulator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from providers.base import Provider
from providers.catalogue import Catalogue
from schemas.attempt import ProviderAttempt
from schemas.classified import QueryClassified, RouteStep
from schemas.completion import Answer, AttemptSummary, CompletionProduced
from schemas.topics import TopicNames
from services.common.worker import Outgoing
from services.dispatcher.attempt import AttemptResult, attempt_model
from services.dispatcher.failover import Next, after_failure

logger = logging.getLogger(__name__)

HOSTED_PROVIDERS = ("gemini", "perplexity")


class HealthLookup(Protocol):
    def is_down(self, provider: str) -> bool: ...


class CompletionCache(Protocol):
    """Remembers finished completions so a redelivered query is not paid for twice."""

    async def get(self, query_id: str) -> CompletionProduced | None: ...

    async def put(self, completion: CompletionProduced) -> None: ...


class Dispatcher:
    def __init__(
        self,
        *,
        providers: Mapping[str, Provider],
        catalogue: Catalogue,
        health: HealthLookup,
        cache: CompletionCache,
        topics: TopicNames,
        attempt_timeout_cap_s: float,
    ) -> None:
        self._providers = dict(providers)
        self._catalogue = catalogue
        self._health = health
        self._cache = cache
        self._topics = topics
        self._timeout_cap_s = attempt_timeout_cap_s

    async def handle(self, classified: QueryClassified) -> Sequence[Outgoing]:
        """Attempt events (one per provider call) then the completion, all keyed by query id."""
        query_id = classified.query.query_id
        cached = await self._cache.get(query_id)
        if cached is not None:
            logger.info(
                "query=%s already dispatched; re-publishing the stored completion", query_id
            )
            return [Outgoing(self._topics.completions, query_id, cached)]

        started = time.monotonic()
        summaries: list[AttemptSummary] = []
        attempt_events: list[ProviderAttempt] = []
        answer: Answer | None = None
        error: str | None = None
        for step in classified.route:
            if self._health.is_down(step.provider):
                summaries.append(
                    AttemptSummary(
                        provider=step.provider,
                        model=step.model,
                        outcome="skipped",
                        error_kind="marked_down",
                        error_message="health monitor reports the provider down",
                    )
                )
                continue
            result, event = await self._attempt(classified, step, len(attempt_events) + 1)
            summaries.append(result.summary)
            attempt_events.append(event)
            if result.answer is not None:
                answer = result.answer
                break
            assert result.error is not None
            error = str(result.error)
            if after_failure(result.error) is Next.GIVE_UP:
                break
        if answer is None and error is None:
            error = "every provider in the route is marked down by the health monitor"

        completion = CompletionProduced(
            query=classified.query,
            classification=classified.classification,
            route=classified.route,
            status="succeeded" if answer else "failed",
            answer=answer,
            attempts=summaries,
            error=None if answer else error,
            dispatch_latency_ms=round((time.monotonic() - started) * 1000.0, 1),
        )
        if answer is not None:
            await self._cache.put(completion)
        outgoing = [Outgoing(self._topics.provider_attempts, query_id, e) for e in attempt_events]
        outgoing.append(Outgoing(self._topics.completions, query_id, completion))
        return outgoing

    async def _attempt(
        self, classified: QueryClassified, step: RouteStep, number: int
    ) -> tuple[AttemptResult, ProviderAttempt]:
        """One route step, and the attempt event the health service reads."""
        spec = self._catalogue.get(step.provider, step.model)
        timeout_s = spec.timeout_s
        if step.provider in HOSTED_PROVIDERS:
            timeout_s = min(timeout_s, self._timeout_cap_s)
        result = await attempt_model(
            provider=self._providers[step.provider],
            spec=spec,
            query=classified.query,
            timeout_s=timeout_s,
        )
        summary, answer = result.summary, result.answer
        if result.error is not None:
            logger.info(
                "query=%s %s/%s %s (%s) after %.0f ms",
                classified.query.query_id,
                step.provider,
                step.model,
                summary.outcome,
                summary.error_kind,
                summary.latency_ms,
            )
        event = ProviderAttempt(
            query_id=classified.query.query_id,
            provider=step.provider,
            model=step.model,
            attempt_number=number,
            outcome=summary.outcome,  # type: ignore[arg-type]  # never "skipped" here
            error_kind=summary.error_kind,
            error_message=summary.error_message,
            latency_ms=summary.latency_ms,
            input_tokens=answer.input_tokens if answer else 0,
            output_tokens=answer.output_tokens if answer else 0,
            cost_usd=summary.cost_usd,
        )
        return result, event

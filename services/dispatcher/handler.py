"""Dispatch one classified query along its route, failing over provider by provider.

No Kafka here: the handler receives a model and returns the events to publish.
Provider clients, the catalogue, the health view and the completion cache are
injected, so tests can give it real clients pointed at the emulator.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

from providers.base import CompletionRequest, Provider
from providers.catalogue import Catalogue
from providers.errors import ProviderError, ProviderTimeout
from providers.prompt import SYSTEM_PROMPT, build_prompt
from schemas.attempt import ProviderAttempt
from schemas.classified import QueryClassified, RouteStep
from schemas.completion import Answer, AttemptSummary, Citation, CompletionProduced
from schemas.topics import TopicNames
from services.common.worker import Outgoing
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
            result = await self._attempt(classified, step, len(attempt_events) + 1)
            summary, event, answer_or_error = result
            summaries.append(summary)
            attempt_events.append(event)
            if isinstance(answer_or_error, Answer):
                answer = answer_or_error
                break
            error = str(answer_or_error)
            if after_failure(answer_or_error) is Next.GIVE_UP:
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
    ) -> tuple[AttemptSummary, ProviderAttempt, Answer | ProviderError]:
        spec = self._catalogue.get(step.provider, step.model)
        provider = self._providers[step.provider]
        timeout_s = spec.timeout_s
        if step.provider in HOSTED_PROVIDERS:
            timeout_s = min(timeout_s, self._timeout_cap_s)
        max_tokens = classified.query.options.max_output_tokens or spec.max_output_tokens
        request = CompletionRequest(
            prompt=build_prompt(classified.query),
            model=step.model,
            max_output_tokens=min(max_tokens, spec.max_output_tokens),
            timeout_s=timeout_s,
            system=SYSTEM_PROMPT,
        )
        started = time.monotonic()
        try:
            reply = await asyncio.wait_for(provider.complete(request), timeout_s)
        except (ProviderError, TimeoutError) as err:
            failure = (
                err
                if isinstance(err, ProviderError)
                else ProviderTimeout(step.provider, f"no answer within {timeout_s:.1f}s")
            )
            latency_ms = (time.monotonic() - started) * 1000.0
            outcome = "timeout" if isinstance(failure, ProviderTimeout) else "error"
            logger.info(
                "query=%s %s/%s %s (%s) after %.0f ms",
                classified.query.query_id,
                step.provider,
                step.model,
                outcome,
                failure.kind,
                latency_ms,
            )
            summary = AttemptSummary(
                provider=step.provider,
                model=step.model,
                outcome=outcome,
                error_kind=failure.kind,
                error_message=failure.message,
                latency_ms=latency_ms,
            )
            event = ProviderAttempt(
                query_id=classified.query.query_id,
                provider=step.provider,
                model=step.model,
                attempt_number=number,
                outcome=outcome,
                error_kind=failure.kind,
                error_message=failure.message,
                latency_ms=latency_ms,
            )
            return summary, event, failure

        latency_ms = (time.monotonic() - started) * 1000.0
        cost = spec.cost_usd(reply.input_tokens, reply.output_tokens)
        answer = Answer(
            provider=step.provider,
            model=step.model,
            text=reply.text,
            citations=[Citation(url=c.url, title=c.title, date=c.date) for c in reply.citations],
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cost_usd=round(cost, 8),
            latency_ms=round(latency_ms, 1),
            finish_reason=reply.finish_reason,
            avg_logprob=reply.avg_logprob,
            emulated=provider.emulated,
        )
        summary = AttemptSummary(
            provider=step.provider,
            model=step.model,
            outcome="success",
            latency_ms=latency_ms,
            cost_usd=answer.cost_usd,
        )
        event = ProviderAttempt(
            query_id=classified.query.query_id,
            provider=step.provider,
            model=step.model,
            attempt_number=number,
            outcome="success",
            latency_ms=latency_ms,
            input_tokens=reply.input_tokens,
            output_tokens=reply.output_tokens,
            cost_usd=answer.cost_usd,
        )
        return summary, event, answer

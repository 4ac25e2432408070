"""One walk along a query's route: skip, attempt, wait out a short Retry-After, fail over.

Each attempt is announced as `started` (and acknowledged by the broker) before the
provider is called; its outcome is returned for the worker to publish with the
completion. Every attempt's time limit comes from the route budget (budget.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from core.attempt import AttemptResult, attempt_model, completion_request
from providers.base import Provider
from providers.catalogue import Catalogue
from providers.errors import ProviderError, RateLimited
from schemas.attempt import ProviderAttempt, attempt_id_for
from schemas.base import ProviderName
from schemas.classified import QueryClassified, RouteStep
from schemas.completion import Answer, AttemptSummary, CompletionProduced
from schemas.topics import TopicNames
from services.common.spend import SpendLedger
from services.common.worker import Outgoing
from services.dispatcher.budget import (
    MIN_ATTEMPT_S,
    Deadline,
    attempt_limit_s,
    own_limit_s,
    reserve_s,
)
from services.dispatcher.cooldowns import ProviderCooldowns
from services.dispatcher.failover import Next, after_failure, rate_limit_wait_s
from services.dispatcher.spending import BUDGET_EXHAUSTED, CampaignSpend, is_paid

logger = logging.getLogger(__name__)

MARKED_DOWN = "health monitor reports the provider down"
OVER_LIMIT = "the campaign's monthly spend limit cannot cover this model's maximum cost"
LOCAL_FOR_BUDGET = (
    "budget: the campaign's monthly spend limit cannot cover the paid models; "
    "the local model costs nothing"
)
LOCAL_PROVIDER = "local"


class HealthLookup(Protocol):
    def is_down(self, provider: str) -> bool: ...


@dataclass(frozen=True)
class RouteLimits:
    """Time limits of a walk (DISPATCHER_* settings)."""

    attempt_timeout_cap_s: float = 4.5
    route_budget_s: float = 25.0
    rate_limit_max_wait_s: float = 2.0


def _skipped(step: RouteStep, kind: str, message: str) -> AttemptSummary:
    return AttemptSummary(
        provider=step.provider,
        model=step.model,
        outcome="skipped",
        error_kind=kind,
        error_message=message,
    )


class RouteWalk:
    """Walks routes for the Dispatcher; holds no per-query state between walks."""

    def __init__(
        self,
        *,
        providers: Mapping[ProviderName, Provider],
        catalogue: Catalogue,
        health: HealthLookup,
        cooldowns: ProviderCooldowns,
        publish: Callable[[Outgoing], Awaitable[None]],
        topics: TopicNames,
        limits: RouteLimits,
        ledger: SpendLedger | None = None,
    ) -> None:
        self._ledger = ledger
        self._providers = dict(providers)
        self._catalogue = catalogue
        self._health = health
        self._cooldowns = cooldowns
        self._publish = publish
        self._topics = topics
        self._limits = limits

    def refused(self, classified: QueryClassified, error: ProviderError) -> CompletionProduced:
        """A failed completion without any call: no provider can take this query."""
        return self._completion(classified, [], None, str(error), time.monotonic())

    async def run(
        self, classified: QueryClassified, *, delivery: str = ""
    ) -> tuple[CompletionProduced, list[ProviderAttempt]]:
        """The completion and the finished-attempt events (the `started` ones are sent).

        `delivery` names this delivery of the query (its lease token): a step called
        again after a crash is booked as a new expense under it (spending.py).
        """
        started = time.monotonic()
        deadline = Deadline(self._limits.route_budget_s)
        spend = await CampaignSpend.open(self._ledger, classified.query.campaign_id, delivery)
        route = list(classified.route)
        limits = [self._own_limit_s(step) for step in route]
        forced = self._forced_step(route)
        summaries: list[AttemptSummary] = []
        finished: list[ProviderAttempt] = []
        answer: Answer | None = None
        error: str | None = None
        index = -1
        while index + 1 < len(route) or self._add_local_step(route, limits, spend, answer):
            index += 1
            step = route[index]
            skip = self._skip(step, index, forced, route)
            if skip is not None:
                summaries.append(skip)
                continue
            cap_s = self._limits.attempt_timeout_cap_s
            later_s = sum(reserve_s(limit, cap_s) for limit in limits[index + 1 :])
            failure: ProviderError | None = None
            retried = False
            while True:
                limit_s = attempt_limit_s(limits[index], later_s, deadline.remaining_s())
                if limit_s < MIN_ATTEMPT_S:
                    budget_s = self._limits.route_budget_s
                    summaries.append(
                        _skipped(step, "budget_spent", f"the route's {budget_s:.0f} s are spent")
                    )
                    break
                attempted = await self._attempt(classified, step, len(finished) + 1, limit_s, spend)
                if attempted is None:
                    summaries.append(_skipped(step, BUDGET_EXHAUSTED, OVER_LIMIT))
                    break
                result, event = attempted
                summaries.append(result.summary)
                finished.append(event)
                answer, failure = result.answer, result.error
                if failure is None:
                    break
                error = str(failure)
                wait_s = self._after_rate_limit(failure, retried, deadline, later_s)
                if wait_s is None:
                    break
                logger.info(
                    "query=%s %s asked to wait %.1f s; waiting, then retrying %s once",
                    classified.query.query_id,
                    step.provider,
                    wait_s,
                    step.model,
                )
                retried = True
                await asyncio.sleep(wait_s)
            if answer is not None:
                break
            if failure is not None and after_failure(failure) is Next.GIVE_UP:
                break
        if answer is None and spend.refusals:
            error = spend.exhausted_error(error)
        elif answer is None and error is None:
            error = "no provider in the route could be tried"
        elif answer is None and forced is not None:
            step = route[forced]
            error = (
                f"every step of the route is unavailable; tried {step.provider}/{step.model} "
                f"anyway: {error}"
            )
        completion = self._completion(
            classified,
            summaries,
            answer,
            error,
            started,
            route=route,
            budget_remaining_usd=await spend.remaining_usd(),
        )
        return completion, finished

    def _add_local_step(
        self,
        route: list[RouteStep],
        limits: list[float],
        spend: CampaignSpend,
        answer: Answer | None,
    ) -> bool:
        """When the limit refused paid models and nothing answered, append the local model
        (free) unless the route already has it; True when a step was added."""
        if answer is not None or not spend.refusals:
            return False
        if any(step.provider == LOCAL_PROVIDER for step in route):
            return False
        local = [
            spec
            for spec in self._catalogue.for_provider(LOCAL_PROVIDER)
            if LOCAL_PROVIDER in self._providers and not is_paid(spec)
        ]
        if not local:
            return False
        spec = local[0]
        route.append(
            RouteStep(provider=spec.provider, model=spec.model_id, reason=LOCAL_FOR_BUDGET)
        )
        limits.append(self._own_limit_s(route[-1]))
        return True

    def _after_rate_limit(
        self, error: ProviderError, retried: bool, deadline: Deadline, later_s: float
    ) -> float | None:
        """Start the provider's cooldown; the wait before one more try, or None to move on."""
        if isinstance(error, RateLimited) and error.retry_after_s is not None:
            self._cooldowns.start(error.provider, error.retry_after_s)
        return rate_limit_wait_s(
            error,
            already_retried=retried,
            max_wait_s=self._limits.rate_limit_max_wait_s,
            spare_s=deadline.remaining_s() - later_s,
            min_attempt_s=MIN_ATTEMPT_S,
        )

    def _own_limit_s(self, step: RouteStep) -> float:
        spec = self._catalogue.get(step.provider, step.model)
        return own_limit_s(step.provider, spec.timeout_s, self._limits.attempt_timeout_cap_s)

    def _unavailable(self, step: RouteStep) -> bool:
        return self._health.is_down(step.provider) or self._cooldowns.remaining_s(step.provider) > 0

    def _forced_step(self, route: Sequence[RouteStep]) -> int | None:
        """When no step is available, the one tried anyway: a false alarm must not stop all
        traffic. The last step not cooling down (its Retry-After is a certain refusal), else
        the last step."""
        if not all(self._unavailable(step) for step in route):
            return None
        for index in range(len(route) - 1, -1, -1):
            if self._cooldowns.remaining_s(route[index].provider) <= 0:
                return index
        return len(route) - 1

    def _skip(
        self, step: RouteStep, index: int, forced: int | None, route: Sequence[RouteStep]
    ) -> AttemptSummary | None:
        if index == forced:
            return None
        anyway = ""
        if forced is not None:
            target = route[forced]
            anyway = f" (so is every step; {target.provider}/{target.model} is tried anyway)"
        cooling_s = self._cooldowns.remaining_s(step.provider)
        if cooling_s > 0:
            return _skipped(
                step,
                "rate_limited",
                f"the provider asked us to wait (Retry-After); {cooling_s:.1f} s left{anyway}",
            )
        if self._health.is_down(step.provider):
            return _skipped(step, "marked_down", MARKED_DOWN + anyway)
        return None

    async def _attempt(
        self,
        classified: QueryClassified,
        step: RouteStep,
        number: int,
        timeout_s: float,
        spend: CampaignSpend,
    ) -> tuple[AttemptResult, ProviderAttempt] | None:
        """Hold the cost, announce, call, settle and describe one attempt; None when the
        campaign's limit cannot cover it. Raises if the announcement fails."""
        query_id = classified.query.query_id
        spec = self._catalogue.get(step.provider, step.model)
        attempt_id = attempt_id_for(query_id, number)
        request = completion_request(classified.query, spec, timeout_s)
        hold = await spend.hold(spec, request, attempt_id, timeout_s)
        if hold is None:
            return None
        announced = ProviderAttempt(
            query_id=query_id,
            attempt_id=attempt_id,
            provider=step.provider,
            model=step.model,
            attempt_number=number,
            outcome="started",
            latency_ms=0.0,
        )
        try:
            await self._publish(Outgoing(self._topics.provider_attempts, step.provider, announced))
        except BaseException:
            with contextlib.suppress(Exception):
                await spend.release(hold)
            raise
        result = await attempt_model(
            provider=self._providers[step.provider],
            spec=spec,
            query=classified.query,
            timeout_s=timeout_s,
        )
        await spend.settle(hold, result.summary)
        summary, answer = result.summary, result.answer
        if result.error is not None:
            logger.info(
                "query=%s %s/%s %s (%s) after %.0f ms of %.1f s",
                query_id,
                step.provider,
                step.model,
                summary.outcome,
                summary.error_kind,
                summary.latency_ms,
                timeout_s,
            )
        event = ProviderAttempt(
            query_id=query_id,
            attempt_id=announced.attempt_id,
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

    def _completion(
        self,
        classified: QueryClassified,
        summaries: list[AttemptSummary],
        answer: Answer | None,
        error: str | None,
        started: float,
        *,
        route: list[RouteStep] | None = None,
        budget_remaining_usd: float | None = None,
    ) -> CompletionProduced:
        return CompletionProduced(
            query=classified.query,
            classification=classified.classification,
            route=classified.route if route is None else route,
            budget_remaining_usd=budget_remaining_usd,
            status="succeeded" if answer else "failed",
            answer=answer,
            attempts=summaries,
            error=None if answer else error,
            dispatch_latency_ms=round((time.monotonic() - started) * 1000.0, 1),
        )

"""One walk along a query's route: skip, attempt, retry the same model, fail over.

What each fault leads to is decided in failover.py; this module carries it out. Why a
step is skipped (uncallable here, Retry-After, marked down, circuit open, a window too
small) is skips.py's; a step is also skipped when the route's deadline leaves it no time.
Each attempt's limits come from the route's deadline (deadline.py); attempts themselves
are run by attempts.py; what the walk found and its completion are walk_outcome.py's.
Each attempt's `release` (when its text may be shown) is release.py's and takeover.py's;
text shown live is continued by the next model that accepts a prefill (delivered.py).
"Budget" here is money only: the campaign's monthly spend limit (`budget_exhausted`);
when it refuses every paid model, the free local model is added to the route.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from core.escalation_scope import EscalationScope
from providers.base import Provider
from providers.catalogue import Catalogue, ModelSpec
from providers.errors import ContextTooLong, ProviderError, RateLimited
from providers.limits import ObservedLatency
from schemas.attempt import ProviderAttempt
from schemas.base import ProviderName
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.delta import Release
from schemas.parts import Answer, RouteStep
from schemas.topics import TopicNames
from services.common.campaign_spend import CampaignSpend
from services.common.spend import SpendLedger
from services.common.spend_rules import BUDGET_EXHAUSTED, is_paid_model
from services.common.worker import Outgoing
from services.dispatcher.attempts import AttemptRunner
from services.dispatcher.circuits import CircuitBoard, circuit_key
from services.dispatcher.cooldowns import ProviderCooldowns
from services.dispatcher.deadline import (
    DEADLINE_PASSED,
    MIN_ATTEMPT_S,
    Deadline,
    StepLimits,
    attempt_limits,
    reserve_s,
    step_limits,
)
from services.dispatcher.delivered import Delivered, Recovered
from services.dispatcher.deltas import DeltaPublisher
from services.dispatcher.failover import (
    MAX_RATE_LIMIT_RETRIES,
    Decision,
    Next,
    RetryBounds,
    after_failure,
    counts_against_circuit,
)
from services.dispatcher.inflight import InFlightAttempts
from services.dispatcher.skips import HealthLookup, StepSkips, skipped
from services.dispatcher.takeover import Releases, continuation_first
from services.dispatcher.walk_outcome import WalkState, completion, failure_error

logger = logging.getLogger(__name__)

OVER_LIMIT = "the campaign's monthly spend limit cannot cover this model's maximum cost"
LOCAL_FOR_BUDGET = (
    "budget: the campaign's monthly spend limit cannot cover the paid models; "
    "the local model costs nothing"
)
LOCAL_PROVIDER = "local"
RETRY_JITTER = 0.5
"""A same-model retry waits its backoff times 1 to 1 + this (spreads a burst of retries)."""


@dataclass(frozen=True)
class RouteLimits:
    """Time limits and retry bounds of a walk (DISPATCHER_* settings)."""

    attempt_timeout_cap_s: float = 4.5
    route_deadline_s: float = 25.0
    rate_limit_max_wait_s: float = 2.0
    rate_limit_retries: int = MAX_RATE_LIMIT_RETRIES


@dataclass(frozen=True)
class _At:
    """Where a walk is: its route (which may grow), the step's index, the forced step."""

    route: list[RouteStep]
    index: int
    forced: int | None


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
        circuits: CircuitBoard | None = None,
        inflight: InFlightAttempts | None = None,
        observed: ObservedLatency | None = None,
        escalation: EscalationScope | None = None,
    ) -> None:
        """`escalation`: which answers the scorer may replace (held back, release.py)."""
        self._releases = Releases(catalogue, escalation or EscalationScope())
        self._ledger = ledger
        self._providers = dict(providers)
        self._catalogue = catalogue
        self._cooldowns = cooldowns
        self._circuits = circuits or CircuitBoard()
        self._skips = StepSkips(
            providers=self._providers,
            catalogue=catalogue,
            health=health,
            cooldowns=cooldowns,
            circuits=self._circuits,
        )
        self._limits = limits
        self._publish = publish
        self._topics = topics
        self._observed = observed or ObservedLatency()
        self._attempts = AttemptRunner(
            providers=self._providers,
            publish=publish,
            topics=topics,
            inflight=inflight or InFlightAttempts(),
            observed=self._observed,
        )

    def refused(self, classified: QueryClassified, error: ProviderError) -> CompletionProduced:
        """A failed completion without any call: no provider can take this query."""
        return completion(classified, [], None, str(error), time.monotonic())

    async def run(
        self,
        classified: QueryClassified,
        *,
        delivery: str = "",
        recovered: Recovered | None = None,
    ) -> tuple[CompletionProduced, list[ProviderAttempt]]:
        """The completion and the finished-attempt events (the `started` ones are sent).

        `delivery` names this delivery of the query (its lease token): a step called
        again after a crash is booked as a new expense under it (services.common.campaign_spend).
        `recovered`: what an earlier delivery left on the deltas topic (after a crash): its
        shown text is continued when the first model tried can, and attempts are numbered
        after its own.
        """
        started = time.monotonic()
        deadline = Deadline(self._limits.route_deadline_s)
        spend = await CampaignSpend.open(self._ledger, classified.query.campaign_id, delivery)
        route = list(classified.route)
        limits = [
            None if self._skips.uncallable(step) else self._step_limits(step) for step in route
        ]
        forced = self._skips.forced_step(route)
        walk = WalkState()
        if recovered is not None:
            walk.delivered, walk.numbered_after = recovered.delivered, recovered.attempts
        deltas = DeltaPublisher(
            publish=self._publish, topic=self._topics.answer_deltas, classified=classified
        )
        if recovered is None or not recovered.routed:
            deltas.routing()  # a redelivery's readers have it already
        index = -1
        while index + 1 < len(route) or self._add_local_step(route, limits, spend, walk.answer):
            index += 1
            step = route[index]
            skip = self._skips.skip(step, index, forced, route, walk.refused_window)
            if skip is not None:
                walk.summaries.append(skip)
                deltas.skipped(skip)
                continue
            own = limits[index]
            assert own is not None  # an uncallable step is skipped above
            later = [s for s in limits[index + 1 :] if s is not None]
            at = _At(route, index, forced)
            stop = await self._step(classified, at, own, later, deadline, spend, walk, deltas)
            if walk.answer is not None or stop:
                break
            if walk.delivered is not None:
                forced = self._continuation_first(route, limits, index, forced)
        await deltas.flush()
        produced = completion(
            classified,
            walk.summaries,
            walk.answer,
            failure_error(walk, spend, route, forced),
            started,
            route=route,
            budget_remaining_usd=await spend.remaining_usd(),
        )
        return produced, walk.finished

    async def _step(
        self,
        classified: QueryClassified,
        at: _At,
        own: StepLimits,
        later: Sequence[StepLimits],
        deadline: Deadline,
        spend: CampaignSpend,
        walk: WalkState,
        deltas: DeltaPublisher,
    ) -> bool:
        """Attempt one step, retrying its model as failover.py decides; True to stop the
        route (an answer, or an error no other model may avoid)."""
        step = at.route[at.index]
        spec = self._catalogue.get(step.provider, step.model)
        key = circuit_key(step.provider, step.model)
        bounds = RetryBounds(
            same_model_retries=spec.max_retries_same_model,
            rate_limit_retries=self._limits.rate_limit_retries,
            rate_limit_max_wait_s=self._limits.rate_limit_max_wait_s,
        )
        rate_limited = failed = 0
        while True:
            given = attempt_limits(
                own, later, deadline.remaining_s(), self._limits.attempt_timeout_cap_s
            )
            if given.total_s < MIN_ATTEMPT_S:
                total_s = self._limits.route_deadline_s
                walk.summaries.append(
                    skipped(step, DEADLINE_PASSED, f"the route's {total_s:.0f} s are spent")
                )
                deltas.skipped(walk.summaries[-1])
                self._circuits.neutral(key)  # a probe admitted for this step was not made
                return False
            number = walk.numbered_after + len(walk.finished) + 1
            later_s = sum(reserve_s(s.detect_s, self._limits.attempt_timeout_cap_s) for s in later)
            decide = functools.partial(
                after_failure, rate_limited_before=rate_limited, failed_before=failed,
                bounds=bounds, spare_s=deadline.remaining_s() - later_s,
                min_attempt_s=MIN_ATTEMPT_S,
            )  # fmt: skip
            continued, release = self._shown(classified, at, walk, spec, decide)
            attempted = await self._attempts.run(
                classified, spec, number, given, spend, deltas,
                release=release, continued=continued,
            )  # fmt: skip
            if attempted is None:
                walk.summaries.append(skipped(step, BUDGET_EXHAUSTED, OVER_LIMIT))
                deltas.skipped(walk.summaries[-1])
                self._circuits.neutral(key)
                return False
            result, event = attempted.result, attempted.event
            walk.delivered = attempted.delivered
            walk.summaries.append(result.summary)
            walk.finished.append(event)
            failure = result.error
            self._record_circuit(key, spec, failure)
            if failure is None:
                walk.answer = result.answer
                return True
            walk.error = str(failure)
            if isinstance(failure, ContextTooLong):
                walk.refused_window = max(walk.refused_window, spec.capabilities.context_window)
            if isinstance(failure, RateLimited) and failure.retry_after_s is not None:
                self._cooldowns.start(failure.provider, failure.retry_after_s)
            decision = after_failure(
                failure,
                rate_limited_before=rate_limited,
                failed_before=failed,
                bounds=bounds,
                spare_s=deadline.remaining_s() - later_s,
                min_attempt_s=MIN_ATTEMPT_S,
            )
            if decision.next is Next.GIVE_UP:
                walk.error = f"{failure.kind}: {failure}"
                return True
            if decision.next is Next.NEXT_PROVIDER:
                return False
            if isinstance(failure, RateLimited):
                rate_limited += 1
                wait_s = decision.wait_s
            else:
                failed += 1
                wait_s = decision.wait_s * (1.0 + random.uniform(0.0, RETRY_JITTER))
            logger.info(
                "query=%s %s/%s %s; retrying the same model in %.2f s",
                classified.query.query_id, step.provider, step.model, failure.kind, wait_s,
            )  # fmt: skip
            await asyncio.sleep(wait_s)

    def _shown(
        self,
        classified: QueryClassified,
        at: _At,
        walk: WalkState,
        spec: ModelSpec,
        decide: Callable[[ProviderError], Decision],
    ) -> tuple[Delivered | None, Release]:
        """The shown text this attempt continues (when its model accepts a prefill) and
        when its own text may be shown (release.py: a continuation is live)."""
        if walk.delivered is not None and spec.accepts_continuation:
            return walk.delivered, "live"

        def available(i: int) -> bool:
            step = at.route[i]
            found = self._skips.skip(step, i, at.forced, at.route, walk.refused_window, admit=False)
            return found is None

        release = self._releases.release(
            classified.query, at.route, at.index, spec, decide, available=available
        )
        return None, release

    def _continuation_first(
        self,
        route: list[RouteStep],
        limits: list[StepLimits | None],
        index: int,
        forced: int | None,
    ) -> int | None:
        """After the attempt whose text was shown failed: the later steps whose model can
        continue that text go first (takeover.py), so the reader keeps it; returns where
        the forced step (skips.py) moved."""
        later = range(index + 1, len(route))
        order = continuation_first(later, lambda i: self._continues(route[i]))
        if order == list(later):
            return forced
        route[index + 1 :], limits[index + 1 :] = (
            [route[i] for i in order],
            [limits[i] for i in order],
        )
        return forced if forced is None or forced <= index else index + 1 + order.index(forced)

    def _continues(self, step: RouteStep) -> bool:
        try:
            return self._catalogue.get(step.provider, step.model).accepts_continuation
        except KeyError:
            return False

    def _record_circuit(self, key: str, spec: ModelSpec, failure: ProviderError | None) -> None:
        if failure is None:
            self._circuits.succeeded(key)
        elif counts_against_circuit(failure):
            self._circuits.failed(key, open_interval_s=spec.cooldown_s)
        else:
            self._circuits.neutral(key)

    def _add_local_step(
        self,
        route: list[RouteStep],
        limits: list[StepLimits | None],
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
            if LOCAL_PROVIDER in self._providers and not is_paid_model(spec)
        ]
        if not local:
            return False
        spec = local[0]
        route.append(
            RouteStep(provider=spec.provider, model=spec.model_id, reason=LOCAL_FOR_BUDGET)
        )
        limits.append(self._step_limits(route[-1]))
        return True

    def _step_limits(self, step: RouteStep) -> StepLimits:
        """The model's limits: the catalogue's ceilings, narrowed by its observed latency
        in this process (providers.limits)."""
        spec = self._catalogue.get(step.provider, step.model)
        first_token_s = None
        if spec.first_token_timeout_s is not None:
            first_token_s = self._observed.first_token_limit_s(spec)
        return step_limits(
            step.provider,
            timeout_s=self._observed.total_limit_s(spec),
            first_token_s=first_token_s,
            stall_s=spec.stall_timeout_s,
            hosted_cap_s=self._limits.attempt_timeout_cap_s,
        )

"""Dispatch one classified query along its route, failing over provider by provider.

No Kafka here: the handler receives a model and returns the events to publish.
Provider clients, the catalogue, the health view, the completion cache, the
dispatch lease and the attempt publisher are injected, so tests can give it real
clients pointed at the emulator and a real Redis.

Paid calls are guarded four ways: a finished completion is cached and
re-published on redelivery; a second delivery of a query that this process is
still dispatching waits for that one (no lease needed); a lease lets only one
delivery across processes call providers at a time; and every call is announced
(`started`, acknowledged by the broker) before it is made, so a call cut short
by a crash is still on record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.attempt import query_problem
from core.escalation_scope import EscalationScope
from providers.base import Provider
from providers.catalogue import Catalogue
from schemas.attempt import ProviderAttempt
from schemas.base import ProviderName
from schemas.classified import QueryClassified
from schemas.completion import CompletionProduced
from schemas.delta import AnswerDelta
from schemas.topics import TopicNames
from services.common.spend import SpendLedger
from services.common.worker import Outgoing
from services.dispatcher.circuits import CircuitBoard
from services.dispatcher.cooldowns import ProviderCooldowns
from services.dispatcher.delivered import Recovered, recover
from services.dispatcher.inflight import InFlightAttempts
from services.dispatcher.route_walk import RouteLimits, RouteWalk
from services.dispatcher.skips import HealthLookup

logger = logging.getLogger(__name__)

LEASE_POLL_INITIAL_S = 0.05
LEASE_POLL_MAX_S = 1.0
"""A second delivery re-reads the cache at these growing intervals while the lease is held."""
MAX_UNSAVED = 1024
"""Completions whose cache write failed, kept to re-publish when the worker retries."""


@dataclass
class _Dispatching:
    """A delivery of a query that this process is dispatching right now."""

    finished: asyncio.Event
    outgoing: Sequence[Outgoing] | None = None
    """Set when it finished with events to publish; None when it raised."""


class CompletionCache(Protocol):
    """Remembers finished completions so a redelivered query is not paid for twice.

    Both methods raise on a storage failure: a failed read is never a miss.
    """

    async def get(self, query_id: str) -> CompletionProduced | None: ...

    async def put(self, completion: CompletionProduced) -> None: ...


class DispatchLease(Protocol):
    """At most one delivery of a query calls providers at a time (see lease.py)."""

    async def acquire(self, query_id: str) -> str | None: ...

    async def held(self, query_id: str) -> bool: ...

    async def release(self, query_id: str, token: str) -> None: ...

    async def earlier_delivery(self, query_id: str) -> bool:
        """True when a delivery before this one began dispatching the query."""
        ...


class DeltaLog(Protocol):
    """An analysis's events on the answer-deltas topic (delta_history.py)."""

    async def read(self, analysis_id: str, since: datetime) -> list[AnswerDelta]: ...


Publish = Callable[[Outgoing], Awaitable[None]]
"""Publishes one event and returns once the broker acknowledged it."""


@dataclass(frozen=True)
class _Unsaved:
    completion: CompletionProduced
    outgoing: list[Outgoing]


class Dispatcher:
    """Handles one classified query per `handle` call; see the module docstring."""

    def __init__(
        self,
        *,
        providers: Mapping[ProviderName, Provider],
        catalogue: Catalogue,
        health: HealthLookup,
        cache: CompletionCache,
        lease: DispatchLease,
        publish: Publish,
        topics: TopicNames,
        limits: RouteLimits,
        cooldowns: ProviderCooldowns | None = None,
        ledger: SpendLedger | None = None,
        circuits: CircuitBoard | None = None,
        inflight: InFlightAttempts | None = None,
        escalation: EscalationScope | None = None,
        history: DeltaLog | None = None,
    ) -> None:
        """`history`: the deltas topic, read back when an earlier delivery of a query began
        it (a crash mid-answer) to continue the text it showed; None: never read."""
        self._history = history
        self._cache = cache
        self._lease = lease
        self._topics = topics
        self._walk = RouteWalk(
            providers=providers,
            catalogue=catalogue,
            health=health,
            cooldowns=cooldowns or ProviderCooldowns(),
            publish=publish,
            topics=topics,
            limits=limits,
            ledger=ledger,
            circuits=circuits,
            inflight=inflight,
            escalation=escalation,
        )
        self._unsaved: OrderedDict[str, _Unsaved] = OrderedDict()
        self._dispatching: dict[str, _Dispatching] = {}

    async def handle(self, classified: QueryClassified) -> Sequence[Outgoing]:
        """Finished attempt events (keyed by provider), then the completion (by query id).

        Raises on a Redis failure (the worker retries the message) rather than risk
        paying a provider again for a query that was answered.

        A delivery of a query that this process is already dispatching (the broker
        redelivers uncommitted messages after it restarts, while the first delivery
        still works) waits for the first and returns its events. The lease alone
        cannot promise that: a Redis outage longer than its TTL, while the first
        delivery waits on a provider or the broker, lets the lease lapse.
        """
        query_id = classified.query.query_id
        while (earlier := self._dispatching.get(query_id)) is not None:
            logger.info("query=%s is being dispatched in this process; waiting for it", query_id)
            await earlier.finished.wait()
            if earlier.outgoing is not None:
                return earlier.outgoing
        mine = _Dispatching(asyncio.Event())
        self._dispatching[query_id] = mine
        try:
            mine.outgoing = await self._dispatch(classified)
            return mine.outgoing
        finally:
            del self._dispatching[query_id]
            mine.finished.set()

    async def _dispatch(self, classified: QueryClassified) -> Sequence[Outgoing]:
        query_id = classified.query.query_id
        unsaved = self._unsaved.get(query_id)
        if unsaved is not None:  # answered here; only the cache write failed
            await self._cache.put(unsaved.completion)
            del self._unsaved[query_id]
            return unsaved.outgoing

        claim = await self._claim(query_id)
        if isinstance(claim, CompletionProduced):
            logger.info("query=%s already dispatched; re-publishing its completion", query_id)
            return [Outgoing(self._topics.completions, query_id, claim)]

        try:
            problem = query_problem(classified.query)
            finished: list[ProviderAttempt] = []
            if problem is not None:
                completion = self._walk.refused(classified, problem)
            else:
                recovered = await self._recovered(classified)
                completion, finished = await self._walk.run(
                    classified, delivery=claim, recovered=recovered
                )
        except BaseException:
            with contextlib.suppress(Exception):
                await self._lease.release(query_id, claim)
            raise
        outgoing = [Outgoing(self._topics.provider_attempts, e.provider, e) for e in finished]
        outgoing.append(Outgoing(self._topics.completions, query_id, completion))
        if completion.status == "succeeded":
            try:
                await self._cache.put(completion)
            except Exception:
                self._remember_unsaved(query_id, _Unsaved(completion, outgoing))
                raise
        try:
            await self._lease.release(query_id, claim)
        except Exception as err:  # it expires on its own; the completion is cached
            logger.warning("query=%s lease release failed: %s", query_id, err)
        return outgoing

    async def _recovered(self, classified: QueryClassified) -> Recovered | None:
        """What an earlier delivery of this query left on the deltas topic (the text it
        showed, the attempts it numbered), when one began it; None for a first delivery."""
        query = classified.query
        if self._history is None or not await self._lease.earlier_delivery(query.query_id):
            return None
        events = await self._history.read(query.analysis_id, query.submitted_at)
        recovered = recover(events, query.query_id)
        shown = recovered.delivered
        logger.info(
            "query=%s redelivered after %d attempts; %s", query.query_id, recovered.attempts,
            f"continuing {len(shown.text)} characters shown by {shown.attempt_id}" if shown
            else "nothing shown live to continue",
        )  # fmt: skip
        return recovered

    async def _claim(self, query_id: str) -> str | CompletionProduced:
        """The lease token to dispatch with, or the completion another delivery produced.

        While another delivery holds the lease, wait for its completion; when the lease
        ends without one (its holder failed or died), take over.
        """
        cached = await self._cache.get(query_id)
        if cached is not None:
            return cached
        delay_s = LEASE_POLL_INITIAL_S
        while True:
            token = await self._lease.acquire(query_id)
            if token is not None:
                cached = await self._cache.get(query_id)  # finished just before we took it
                if cached is None:
                    return token
                await self._lease.release(query_id, token)
                return cached
            logger.info("query=%s is being dispatched by another delivery; waiting", query_id)
            while await self._lease.held(query_id):
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, LEASE_POLL_MAX_S)
                cached = await self._cache.get(query_id)
                if cached is not None:
                    return cached

    def _remember_unsaved(self, query_id: str, unsaved: _Unsaved) -> None:
        self._unsaved[query_id] = unsaved
        while len(self._unsaved) > MAX_UNSAVED:
            self._unsaved.popitem(last=False)

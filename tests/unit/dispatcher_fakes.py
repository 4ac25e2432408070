"""Test doubles for the dispatcher's injected dependencies (the Protocols give them for free)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from providers.base import CompletionRequest, ProviderReply, SourceRef
from providers.catalogue import DEFAULT_CATALOGUE, Catalogue
from providers.errors import FirstTokenTimeout, ProviderError
from providers.transport import record_service_ms
from schemas.attempt import ProviderAttempt
from schemas.completion import CompletionProduced
from schemas.topics import TopicNames
from services.common.worker import Outgoing
from services.dispatcher.circuits import CircuitBoard
from services.dispatcher.cooldowns import ProviderCooldowns
from services.dispatcher.handler import DeltaLog, Dispatcher
from services.dispatcher.inflight import InFlightAttempts
from services.dispatcher.route_walk import RouteLimits

TOPICS = TopicNames("unit")


class ScriptedProvider:
    """Answers, fails with the next scripted error, or hangs; records every call.

    A hang honours the request's first-token limit as the streaming clients do (it raises
    `FirstTokenTimeout` when the limit passes); without one it hangs until cancelled.
    """

    emulated = True

    def __init__(
        self,
        name: str,
        *,
        error: ProviderError | None = None,
        errors: Sequence[ProviderError] = (),
        hang: bool = False,
        delay_s: float = 0.0,
        published: list[Outgoing] | None = None,
        service_ms: float | None = None,
    ) -> None:
        """`service_ms`: the service time each answer states, as a provider's header would."""
        self.service_ms = service_ms
        self.name = name
        self.errors = list(errors) or ([error] if error is not None else [])
        self.repeat_last = error is not None
        self.hang = hang
        self.delay_s = delay_s
        self.calls: list[CompletionRequest] = []
        self.published_at_call: list[int] = []
        self._published = published

    async def complete(self, request: CompletionRequest) -> ProviderReply:
        self.calls.append(request)
        if self._published is not None:
            # attempt events only: the live answer events (answer-deltas) are not announcements
            self.published_at_call.append(
                sum(isinstance(o.event, ProviderAttempt) for o in self._published)
            )
        if self.hang:
            if request.first_token_timeout_s is None:
                await asyncio.sleep(600)
            await asyncio.sleep(request.first_token_timeout_s or 0.0)
            raise FirstTokenTimeout(self.name, "no first token")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.service_ms is not None:
            record_service_ms(self.service_ms)
        if self.errors:
            return self._fail()
        return ProviderReply(
            text=f"answer from {self.name}",
            model=request.model,
            input_tokens=100,
            output_tokens=200,
            finish_reason="stop",
            citations=(SourceRef(url="https://apnews.com/a"),),
            first_token_s=self.delay_s,
        )

    def _fail(self) -> ProviderReply:
        error = self.errors[0] if self.repeat_last else self.errors.pop(0)
        raise error

    async def probe(self, timeout_s: float) -> None:
        return None

    async def aclose(self) -> None:
        return None


class Health:
    def __init__(self, down: set[str] | None = None) -> None:
        self.down = down or set()

    def is_down(self, provider: str) -> bool:
        return provider in self.down


class MemoryCache:
    """A dict; `fail_reads` / `fail_writes` raise the error a dead Redis raises."""

    def __init__(self, *, fail_reads: Exception | None = None) -> None:
        self.items: dict[str, CompletionProduced] = {}
        self.fail_reads = fail_reads
        self.fail_writes: Exception | None = None

    async def get(self, query_id: str) -> CompletionProduced | None:
        if self.fail_reads is not None:
            raise self.fail_reads
        return self.items.get(query_id)

    async def put(self, completion: CompletionProduced) -> None:
        if self.fail_writes is not None:
            raise self.fail_writes
        self.items[completion.query.query_id] = completion


class MemoryLease:
    """The lease without expiry: acquire succeeds while nobody holds it."""

    def __init__(self) -> None:
        self.holders: dict[str, str] = {}
        self.began: set[str] = set()

    async def earlier_delivery(self, query_id: str) -> bool:
        earlier = query_id in self.began
        self.began.add(query_id)
        return earlier

    async def acquire(self, query_id: str) -> str | None:
        if query_id in self.holders:
            return None
        token = uuid.uuid4().hex
        self.holders[query_id] = token
        return token

    async def held(self, query_id: str) -> bool:
        return query_id in self.holders

    async def release(self, query_id: str, token: str) -> None:
        if self.holders.get(query_id) == token:
            del self.holders[query_id]


class Broker:
    """Collects what the dispatcher publishes itself (the `started` attempt events)."""

    def __init__(self, *, fail: Exception | None = None) -> None:
        self.sent: list[Outgoing] = []
        self.fail = fail

    async def publish(self, outgoing: Outgoing) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(outgoing)

    def attempts(self) -> list[ProviderAttempt]:
        return [o.event for o in self.sent if isinstance(o.event, ProviderAttempt)]


def catalogue_with(changes: Mapping[str, Mapping[str, Any]]) -> Catalogue:
    """The built-in catalogue with some models' fields changed (by model id)."""
    return Catalogue(
        models=[
            spec.model_copy(update=dict(changes[spec.model_id]))
            if spec.model_id in changes
            else spec
            for spec in DEFAULT_CATALOGUE.models
        ]
    )


def make_dispatcher(
    providers,
    *,
    health: Health | None = None,
    cache: MemoryCache | None = None,
    lease: MemoryLease | None = None,
    broker: Broker | None = None,
    cooldowns: ProviderCooldowns | None = None,
    cap: float = 4.5,
    deadline: float = 25.0,
    max_wait: float = 2.0,
    catalogue: Catalogue | None = None,
    circuits: CircuitBoard | None = None,
    inflight: InFlightAttempts | None = None,
    history: DeltaLog | None = None,
) -> Dispatcher:
    return Dispatcher(
        providers={p.name: p for p in providers},
        catalogue=catalogue or DEFAULT_CATALOGUE,
        health=health or Health(),
        cache=cache or MemoryCache(),
        lease=lease or MemoryLease(),
        publish=(broker or Broker()).publish,
        topics=TOPICS,
        limits=RouteLimits(
            attempt_timeout_cap_s=cap, route_deadline_s=deadline, rate_limit_max_wait_s=max_wait
        ),
        cooldowns=cooldowns,
        circuits=circuits,
        inflight=inflight,
        history=history,
    )


def completion_of(outgoing: Sequence[Outgoing]) -> CompletionProduced:
    assert outgoing[-1].topic == TOPICS.completions
    event = outgoing[-1].event
    assert isinstance(event, CompletionProduced)
    return event

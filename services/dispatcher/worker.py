"""Wires the dispatcher to the classified-queries topic and the health stream."""

from __future__ import annotations

from collections.abc import Mapping

from providers.base import Provider
from providers.catalogue import Catalogue
from schemas.base import ProviderName
from schemas.classified import QueryClassified
from services.common.dead_letter_sink import SetAside
from services.common.producer import EventProducer
from services.common.spend import SpendLedger
from services.common.startup import service_worker
from services.common.worker import EventWorker, Outgoing
from services.dispatcher.circuits import CircuitBoard
from services.dispatcher.handler import (
    CompletionCache,
    DeltaLog,
    Dispatcher,
    DispatchLease,
    HealthLookup,
)
from services.dispatcher.inflight import InFlightAttempts
from services.dispatcher.route_walk import RouteLimits
from services.dispatcher.settings import DispatcherSettings

SERVICE = "dispatcher"


def route_limits(settings: DispatcherSettings) -> RouteLimits:
    return RouteLimits(
        attempt_timeout_cap_s=settings.attempt_timeout_cap_s,
        route_deadline_s=settings.route_deadline_s,
        rate_limit_max_wait_s=settings.rate_limit_max_wait_s,
        rate_limit_retries=settings.rate_limit_retries,
    )


def build_worker(
    settings: DispatcherSettings,
    *,
    producer: EventProducer,
    providers: Mapping[ProviderName, Provider],
    catalogue: Catalogue,
    health: HealthLookup,
    cache: CompletionCache,
    lease: DispatchLease,
    set_aside: SetAside | None = None,
    ledger: SpendLedger | None = None,
    inflight: InFlightAttempts | None = None,
    circuits: CircuitBoard | None = None,
    history: DeltaLog | None = None,
) -> EventWorker[QueryClassified]:
    topics = settings.infra.topics

    async def publish(outgoing: Outgoing) -> None:
        await producer.send_async(outgoing.topic, outgoing.key, outgoing.event)

    dispatcher = Dispatcher(
        providers=providers,
        catalogue=catalogue,
        health=health,
        cache=cache,
        lease=lease,
        publish=publish,
        topics=topics,
        limits=route_limits(settings),
        ledger=ledger,
        circuits=circuits,
        inflight=inflight,
        escalation=settings.escalation.scope(),
        history=history,
    )
    return service_worker(
        settings.infra,
        service=SERVICE,
        topic=topics.classified,
        event_type=QueryClassified,
        handle=dispatcher.handle,
        producer=producer,
        max_in_flight=settings.max_in_flight,
        set_aside=set_aside,
    )

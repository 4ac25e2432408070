"""Wires the dispatcher to the classified-queries topic and the health stream."""

from __future__ import annotations

from providers.base import Provider
from providers.catalogue import Catalogue
from schemas.classified import QueryClassified
from services.common.producer import EventProducer
from services.common.runner import worker_consumer_config
from services.common.worker import EventWorker
from services.dispatcher.handler import CompletionCache, Dispatcher, HealthLookup
from services.dispatcher.settings import DispatcherSettings

SERVICE = "dispatcher"


def build_worker(
    settings: DispatcherSettings,
    *,
    producer: EventProducer,
    providers: dict[str, Provider],
    catalogue: Catalogue,
    health: HealthLookup,
    cache: CompletionCache,
) -> EventWorker[QueryClassified]:
    topics = settings.infra.topics
    dispatcher = Dispatcher(
        providers=providers,
        catalogue=catalogue,
        health=health,
        cache=cache,
        topics=topics,
        attempt_timeout_cap_s=settings.attempt_timeout_cap_s,
    )
    return EventWorker(
        service=SERVICE,
        topic=topics.classified,
        event_type=QueryClassified,
        handle=dispatcher.handle,
        consumer_config=worker_consumer_config(settings.infra, SERVICE),
        producer=producer,
        dead_letter_topic=topics.dead_letters,
        max_in_flight=settings.max_in_flight,
    )

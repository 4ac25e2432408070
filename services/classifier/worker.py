"""Wires the classifier's pure handler to the queries topic."""

from __future__ import annotations

from collections.abc import Sequence

from providers.catalogue import Catalogue
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.classifier.settings import ClassifierSettings
from services.classifier.tier_router import TierRouter
from services.common.dead_letter_sink import SetAside
from services.common.producer import EventProducer
from services.common.runner import worker_consumer_config
from services.common.worker import EventWorker, Outgoing

SERVICE = "classifier"


def build_worker(
    settings: ClassifierSettings,
    *,
    producer: EventProducer,
    router: TierRouter,
    set_aside: SetAside | None = None,
) -> EventWorker[QueryRequested]:
    topics = settings.infra.topics
    catalogue = Catalogue.load(settings.providers.catalogue_path)

    async def handle(query: QueryRequested) -> Sequence[Outgoing]:
        # A decision is a few milliseconds of CPU: cheaper inline than a thread hop.
        return [Outgoing(topics.classified, query.query_id, classify(query, router, catalogue))]

    return EventWorker(
        service=SERVICE,
        topic=topics.queries,
        event_type=QueryRequested,
        handle=handle,
        consumer_config=worker_consumer_config(settings.infra, SERVICE),
        producer=producer,
        dead_letter_topic=topics.dead_letters,
        max_in_flight=settings.max_in_flight,
        set_aside=set_aside,
    )

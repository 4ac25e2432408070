"""Wires the classifier's pure handler to the queries topic."""

from __future__ import annotations

from collections.abc import Sequence

from core.capability_policy import CapabilityPolicy
from providers.catalogue import Catalogue
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.classifier.settings import ClassifierSettings
from services.classifier.tier_router import TierRouter
from services.common.dead_letter_sink import SetAside
from services.common.producer import EventProducer
from services.common.startup import service_worker
from services.common.worker import EventWorker, Outgoing

SERVICE = "classifier"


def build_worker(
    settings: ClassifierSettings,
    *,
    producer: EventProducer,
    router: TierRouter,
    capability: CapabilityPolicy | None = None,
    set_aside: SetAside | None = None,
) -> EventWorker[QueryRequested]:
    topics = settings.infra.topics
    catalogue = Catalogue.load(settings.providers.catalogue_path)

    async def handle(query: QueryRequested) -> Sequence[Outgoing]:
        # A decision is a few milliseconds of CPU: cheaper inline than a thread hop.
        classified = classify(query, router, catalogue, capability)
        return [Outgoing(topics.classified, query.query_id, classified)]

    return service_worker(
        settings.infra,
        service=SERVICE,
        topic=topics.queries,
        event_type=QueryRequested,
        handle=handle,
        producer=producer,
        max_in_flight=settings.max_in_flight,
        set_aside=set_aside,
    )

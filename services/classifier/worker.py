"""Wires the classifier's pure handler to the queries topic."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.classifier.settings import ClassifierSettings
from services.common.producer import EventProducer
from services.common.runner import worker_consumer_config
from services.common.worker import EventWorker, Outgoing, SetAside

SERVICE = "classifier"


def build_worker(
    settings: ClassifierSettings,
    *,
    producer: EventProducer,
    set_aside: SetAside | None = None,
) -> EventWorker[QueryRequested]:
    topics = settings.infra.topics

    async def handle(query: QueryRequested) -> Sequence[Outgoing]:
        return [Outgoing(topics.classified, query.query_id, classify(query))]

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

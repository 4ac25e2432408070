"""Wires the scorer to the completions topic."""

from __future__ import annotations

from schemas.completion import CompletionProduced
from services.common.dead_letter_sink import SetAside
from services.common.producer import EventProducer
from services.common.runner import worker_consumer_config
from services.common.worker import EventWorker
from services.scorer.handler import Scorer
from services.scorer.settings import ScorerSettings

SERVICE = "scorer"


def build_worker(
    settings: ScorerSettings,
    *,
    producer: EventProducer,
    scorer: Scorer,
    set_aside: SetAside | None = None,
) -> EventWorker[CompletionProduced]:
    topics = settings.infra.topics
    return EventWorker(
        service=SERVICE,
        topic=topics.completions,
        event_type=CompletionProduced,
        handle=scorer.handle,
        consumer_config=worker_consumer_config(settings.infra, SERVICE),
        producer=producer,
        dead_letter_topic=topics.dead_letters,
        max_in_flight=settings.max_in_flight,
        set_aside=set_aside,
    )

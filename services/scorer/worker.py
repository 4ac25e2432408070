"""Wires the scorer to the completions topic."""

from __future__ import annotations

from schemas.completion import CompletionProduced
from services.common.dead_letter_sink import SetAside
from services.common.producer import EventProducer
from services.common.startup import service_worker
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
    return service_worker(
        settings.infra,
        service=SERVICE,
        topic=settings.infra.topics.completions,
        event_type=CompletionProduced,
        handle=scorer.handle,
        producer=producer,
        max_in_flight=settings.max_in_flight,
        set_aside=set_aside,
    )

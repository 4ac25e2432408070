"""Wires the recorder: one `EventWorker` per audit topic, all in one process.

Each topic has its own consumer group (`<namespace>.recorder.<topic>`), so the
recorder's offsets never touch another service's, and static membership ids stay
unique per group. A worker publishes nothing: its handler writes rows, and the offset
is committed only after the transaction committed. The workers share one
`GroupCommit`, so the events in flight at once, on every topic, share transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from schemas.attempt import ProviderAttempt
from schemas.base import EventModel
from schemas.classified import QueryClassified
from schemas.feedback import FeedbackGiven
from schemas.health import ProviderStatus
from schemas.query import QueryRequested
from schemas.response import AnalysisResponded
from schemas.topics import TopicNames
from services.common.producer import EventProducer
from services.common.startup import service_worker
from services.common.tracing import message_trace_id
from services.common.worker import EventWorker, Handler, Outgoing, handled_message
from services.recorder.group_commit import MAX_BATCH_EVENTS, GroupCommit
from services.recorder.handler import records
from services.recorder.settings import RecorderSettings
from services.recorder.writer import RecordWriter

SERVICE = "recorder"


@dataclass(frozen=True)
class RecordedTopic:
    """A topic the recorder reads, and the event model it carries."""

    name: str
    event_type: type[EventModel]


def recorded_topics(topics: TopicNames) -> list[RecordedTopic]:
    """Every topic the tables are written from (the rebuild reads the same list),
    provider health included; not completions nor dead letters, which the audit reads
    (`audit.window.trail_topics`, another set)."""
    return [
        RecordedTopic(topics.queries, QueryRequested),
        RecordedTopic(topics.classified, QueryClassified),
        RecordedTopic(topics.provider_attempts, ProviderAttempt),
        RecordedTopic(topics.responses, AnalysisResponded),
        RecordedTopic(topics.provider_health, ProviderStatus),
        RecordedTopic(topics.feedback, FeedbackGiven),
    ]


def record_handler(
    writer: RecordWriter, *, linger_s: float = 0.0, enough_events: int = MAX_BATCH_EVENTS
) -> Handler[EventModel]:
    """The workers' handler: `event`'s rows (with the trace id its message's headers
    carry), written in a batch shared with the events in flight beside it (or arriving
    within `linger_s`, until `enough_events` wait); returns once they are committed.
    Call it on the workers' loop."""
    batches = GroupCommit(writer=writer, linger_s=linger_s, enough_events=enough_events)

    async def handle(event: EventModel) -> Sequence[Outgoing]:
        message = handled_message()
        trace_id = None if message is None else message_trace_id(message)
        await batches.write(records(event, trace_id))
        return []

    return handle


def build_workers(
    settings: RecorderSettings, *, producer: EventProducer, writer: RecordWriter
) -> list[EventWorker[EventModel]]:
    """One worker per audit topic; `producer` is only used for dead letters."""
    infra = settings.infra
    prefix = f"{infra.topic_namespace}."
    handle = record_handler(
        writer, linger_s=settings.linger_ms / 1000, enough_events=settings.max_in_flight
    )

    workers: list[EventWorker[EventModel]] = []
    for topic in recorded_topics(infra.topics):
        service = f"{SERVICE}.{topic.name.removeprefix(prefix)}"
        workers.append(service_worker(
            infra,
            service=service,
            topic=topic.name,
            event_type=topic.event_type,
            handle=handle,
            producer=producer,
            max_in_flight=settings.max_in_flight,
        ))
    return workers


async def run_workers(workers: Sequence[EventWorker[EventModel]], stop: asyncio.Event) -> None:
    """Run every worker until `stop`; if one fails, the others stop and it re-raises."""
    async with asyncio.TaskGroup() as group:
        for worker in workers:
            group.create_task(worker.run(stop), name=worker.service)

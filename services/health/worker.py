"""Wires the health monitor: the attempts consumer, the probe loops and the status sinks."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from redis.asyncio import Redis

from providers.base import Provider
from schemas.attempt import ProviderAttempt
from schemas.base import ProviderName, utc_now
from services.common.producer import EventProducer
from services.common.redis_keys import RedisKeys
from services.common.runner import worker_consumer_config
from services.common.worker import EventWorker, Outgoing
from services.health.handler import HealthMonitor
from services.health.prober import Prober
from services.health.publisher import StatusPublisher
from services.health.settings import HealthSettings

SERVICE = "health"


def build_attempts_worker(
    settings: HealthSettings, *, monitor: HealthMonitor, publisher: StatusPublisher,
    producer: EventProducer,
) -> EventWorker[ProviderAttempt]:
    """Reads the dispatcher's attempt events in the health service's own consumer group."""
    topics = settings.infra.topics

    async def handle(attempt: ProviderAttempt) -> Sequence[Outgoing]:
        statuses = monitor.on_attempt(attempt, utc_now())
        publisher.remember(statuses)
        return [Outgoing(topics.provider_health, s.provider, s) for s in statuses]

    return EventWorker(
        service=SERVICE,
        topic=topics.provider_attempts,
        event_type=ProviderAttempt,
        handle=handle,
        consumer_config=worker_consumer_config(settings.infra, SERVICE),
        producer=producer,
        dead_letter_topic=topics.dead_letters,
        max_in_flight=settings.max_in_flight,
    )


class HealthService:
    """Everything the process runs, built from settings and its dependencies."""

    def __init__(
        self, settings: HealthSettings, *, producer: EventProducer, redis: Redis,
        providers: Mapping[ProviderName, Provider],
    ) -> None:
        infra = settings.infra
        monitored = {p: providers[p] for p in settings.monitored_providers}
        self.monitor = HealthMonitor(monitored, settings.thresholds())
        self.publisher = StatusPublisher(
            producer=producer, topic=infra.topics.provider_health, redis=redis,
            redis_key=RedisKeys(infra.topic_namespace).provider_status(),
        )
        self.attempts = build_attempts_worker(settings, monitor=self.monitor,
                                              publisher=self.publisher, producer=producer)
        self.prober = Prober(
            providers=monitored, monitor=self.monitor, publisher=self.publisher,
            intervals_s={p: settings.probe_interval_for(p, emulated=provider.emulated)
                         for p, provider in monitored.items()},
            timeout_s=settings.probe_timeout_s,
            heartbeat_s=settings.heartbeat_s,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop`; if any part fails, the others are cancelled and it re-raises."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.attempts.run(stop), name="attempts")
            group.create_task(self.prober.run(stop), name="prober")
            group.create_task(self.publisher.run(stop), name="redis-writer")

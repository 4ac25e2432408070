"""Wires the health monitor: the attempts consumer, the probe loops and the status sinks.

Several instances share the work through the attempts consumer group: each
answers for the providers whose attempt partition it owns (see ownership.py),
and takes over or gives up providers when the group rebalances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from redis.asyncio import Redis

from providers.base import Provider
from providers.registry import select_providers
from schemas.attempt import ProviderAttempt
from schemas.base import ProviderName, utc_now
from services.common.kafka_config import admin_config
from services.common.kafka_security import KafkaSecurity
from services.common.producer import EventProducer
from services.common.redis_keys import RedisKeys
from services.common.startup import service_worker
from services.common.worker import EventWorker, Outgoing
from services.health.handler import HealthMonitor
from services.health.ownership import ProviderOwnership
from services.health.prober import Prober
from services.health.publisher import StatusPublisher
from services.health.settings import HealthSettings

logger = logging.getLogger(__name__)

SERVICE = "health"
METADATA_TIMEOUT_S = 10.0
PARTITION_COUNT_RETRY_S = 1.0
"""After a failed look-up of the attempts topic's partition count, try again this soon."""


def attempt_partition_count(bootstrap_servers: str, topic: str, *, security: KafkaSecurity) -> int:
    """How many partitions `topic` has now (blocking; raises KafkaException)."""
    admin = AdminClient(admin_config(bootstrap_servers, security=security))
    metadata = admin.list_topics(topic, timeout=METADATA_TIMEOUT_S)
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        raise KafkaException(found.error if found is not None else f"no topic {topic}")
    return len(found.partitions)


def build_attempts_worker(
    settings: HealthSettings, *, monitor: HealthMonitor, publisher: StatusPublisher,
    producer: EventProducer, on_partitions_changed: Callable[[frozenset[int]], None],
) -> EventWorker[ProviderAttempt]:
    """Reads the dispatcher's attempt events in the health service's own consumer group."""
    topics = settings.infra.topics

    async def handle(attempt: ProviderAttempt) -> Sequence[Outgoing]:
        statuses = publisher.owned(monitor.on_attempt(attempt, utc_now()))
        publisher.remember(statuses)
        return [Outgoing(topics.provider_health, s.provider, s) for s in statuses]

    return service_worker(
        settings.infra,
        service=SERVICE,
        topic=topics.provider_attempts,
        event_type=ProviderAttempt,
        handle=handle,
        producer=producer,
        max_in_flight=settings.max_in_flight,
        on_partitions_changed=on_partitions_changed,
    )


class HealthService:
    """Everything the process runs, built from settings and its dependencies.

    `count_partitions` tells how many partitions the attempts topic has (asked again
    after every rebalance, since partitions can be added); by default the broker is asked.
    """

    def __init__(
        self, settings: HealthSettings, *, producer: EventProducer, redis: Redis,
        providers: Mapping[ProviderName, Provider],
        count_partitions: Callable[[], int] | None = None,
    ) -> None:
        """Raises providers.registry.UnknownProvider when a monitored provider has no client."""
        infra = settings.infra
        # a name without a client (a typo in HEALTH_MONITORED_PROVIDERS, a provider the
        # catalogue does not declare) stops start-up naming it and the known ones
        monitored = select_providers(providers, settings.monitored_providers)
        self.ownership = ProviderOwnership(monitored)
        self.monitor = HealthMonitor(monitored, settings.thresholds(),
                                     publisher=settings.instance_id)
        self.publisher = StatusPublisher(
            producer=producer, topic=infra.topics.provider_health, redis=redis,
            redis_key=RedisKeys(infra.topic_namespace).provider_status(),
            owns=self.ownership.owns,
        )
        self.attempts = build_attempts_worker(
            settings, monitor=self.monitor, publisher=self.publisher, producer=producer,
            on_partitions_changed=self._partitions_changed)
        self.prober = Prober(
            providers=monitored, monitor=self.monitor, publisher=self.publisher,
            intervals_s={p: settings.probe_interval_for(p, emulated=provider.emulated)
                         for p, provider in monitored.items()},
            timeout_s=settings.probe_timeout_s,
            timeouts_s={p: settings.probe_timeout_for(p) for p in monitored},
            heartbeat_s=settings.heartbeat_s,
            ownership=self.ownership,
        )
        self._count_partitions = count_partitions or (
            lambda: attempt_partition_count(infra.kafka_bootstrap_servers,
                                            infra.topics.provider_attempts,
                                            security=infra.kafka_security))
        self._partition_count: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._assignment: frozenset[int] = frozenset()
        self._assignment_changed = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop`; if any part fails, the others are cancelled and it re-raises."""
        self._loop = asyncio.get_running_loop()
        async with asyncio.TaskGroup() as group:
            group.create_task(self.attempts.run(stop), name="attempts")
            group.create_task(self._follow_assignment(stop), name="ownership")
            group.create_task(self.prober.run(stop), name="prober")
            group.create_task(self.publisher.run(stop), name="redis-writer")

    def _partitions_changed(self, partitions: frozenset[int]) -> None:
        """On the consumer thread, after every rebalance: hand over to the event loop."""
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing: nothing to own
            self._loop.call_soon_threadsafe(self._take_assignment, partitions)

    def _take_assignment(self, partitions: frozenset[int]) -> None:
        self._assignment = partitions
        self._assignment_changed.set()

    async def _follow_assignment(self, stop: asyncio.Event) -> None:
        """Apply each new assignment: stop answering for lost providers, start afresh
        for gained ones (their first probe publishes their state)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._assignment_changed.wait(),
                                       timeout=PARTITION_COUNT_RETRY_S)
            if not self._assignment_changed.is_set():
                continue
            self._assignment_changed.clear()
            partitions = self._assignment
            try:
                self._partition_count = await asyncio.to_thread(self._count_partitions)
            except Exception as err:  # broker briefly unreachable: keep the last count
                logger.warning("partition count of the attempts topic unknown (%s: %s)",
                               type(err).__name__, err)
                if self._partition_count is None:
                    self._assignment_changed.set()  # nothing to go on yet: ask again
                    await asyncio.sleep(PARTITION_COUNT_RETRY_S)
                    continue
            change = self.ownership.assign(partitions, int(self._partition_count))
            for provider in change.lost:
                self.monitor.reset(provider)
                self.publisher.forget(provider)
            for provider in change.gained:
                self.monitor.reset(provider)

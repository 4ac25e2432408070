"""Start-up of every service process: one skeleton instead of one per `__main__`.

`run_service(name, infra, main)` is the whole life of a service process: configure
logging, serve `/metrics` when `METRICS_PORT` is set (first, so a scrape sees the process
up even while it waits for the broker), create the namespace's topics (retried until the
broker answers: `ensure_topics_when_reachable`), then run `main(run)` until SIGTERM or
SIGINT sets `run.stop`. `run` (a `ServiceRun`) carries the process's one producer and opens
the clients a service asks for (Redis, provider clients); whatever it opened, or was
handed to `on_exit`, is closed in reverse order when `main` returns or fails.

`service_worker` builds an `EventWorker` with the keywords every service passes alike:
its consumer group's configuration and the namespace's dead-letter topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis

from providers.base import Provider
from providers.registry import build_providers, close_providers
from providers.settings import ProviderSettings
from schemas.base import EventModel, ProviderName
from services.common.admin import ensure_topics_when_reachable
from services.common.consumer import consumer_config
from services.common.dead_letter_sink import SetAside
from services.common.logs import configure_logging
from services.common.metrics import lag_sampling, serve_metrics
from services.common.producer import EventProducer, producer_config
from services.common.redis_client import async_redis
from services.common.redis_keys import RedisKeys
from services.common.set_aside import SetAsideAnswers
from services.common.settings import InfraSettings
from services.common.tracing import configure_tracing, shutdown_tracing
from services.common.worker import EventWorker, Handler

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=EventModel)


class ServiceRun:
    """One run of a service process: its stop event, its producer, and the clients it
    opened, all closed in reverse order when the run ends (see the module docstring)."""

    def __init__(
        self,
        *,
        name: str,
        infra: InfraSettings,
        stop: asyncio.Event,
        exits: contextlib.AsyncExitStack,
    ) -> None:
        self.name = name
        self.infra = infra
        self.stop = stop
        self._exits = exits
        self.producer = EventProducer(
            config=producer_config(
                infra.kafka_bootstrap_servers,
                client_id=f"{name}-{os.getpid()}",
                security=infra.kafka_security,
            )
        )
        """The process's one producer (started lazily on first send)."""
        exits.callback(self.producer.close)

    def redis(self, concurrency: int) -> Redis:
        """An asyncio Redis client for `concurrency` handlers at once (`redis_client.py`)."""
        client = async_redis(self.infra.redis_url, concurrency=concurrency)
        self._exits.push_async_callback(client.aclose)
        return client

    def providers(self, settings: ProviderSettings) -> dict[ProviderName, Provider]:
        """One client per provider (nothing connects until the first call)."""
        clients = build_providers(settings)
        self._exits.push_async_callback(close_providers, clients)
        return clients

    def set_aside(self, redis: Redis) -> SetAsideAnswers:
        """The failed-answer publisher for this run's dead-lettered pipeline messages."""
        return SetAsideAnswers(
            producer=self.producer,
            redis=redis,
            keys=RedisKeys(self.infra.topic_namespace),
            responses_topic=self.infra.topics.responses,
            ttl_s=self.infra.result_ttl_s,
        )

    def on_exit(self, callback: Callable[[], object]) -> None:
        """Call `callback` when the run ends (before what was opened earlier is closed)."""
        self._exits.callback(callback)

    def on_exit_async(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Await `callback()` when the run ends (before what was opened earlier is closed)."""
        self._exits.push_async_callback(callback)


def run_service(
    name: str, infra: InfraSettings, main: Callable[[ServiceRun], Awaitable[None]]
) -> None:
    """Configure logging, serve `/metrics` when `METRICS_PORT` is set, ensure topics exist,
    then run `main(run)` until SIGTERM/SIGINT sets `run.stop`; close what it opened."""
    configure_logging(infra.log_level)
    configure_tracing(name)
    # First, so a scrape sees the process up even while it waits for the broker.
    metrics = serve_metrics(name, host=infra.metrics_host, port=infra.metrics_port)
    ensure_topics_when_reachable(infra)

    async def supervised() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        logger.info("%s starting (namespace=%s)", name, infra.topic_namespace)
        async with contextlib.AsyncExitStack() as exits:
            await main(ServiceRun(name=name, infra=infra, stop=stop, exits=exits))

    try:
        asyncio.run(supervised())
    finally:
        shutdown_tracing()
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()


def worker_consumer_config(infra: InfraSettings, service: str) -> dict[str, Any]:
    """Consumer config for a service's group: instances of one service share partitions.
    With metrics on, librdkafka reports the consumer lag every few seconds."""
    config = consumer_config(
        infra.kafka_bootstrap_servers,
        group_id=infra.group_id(service),
        client_id=f"{service}-{os.getpid()}",
        instance_id=(
            f"{infra.group_id(service)}-{infra.service_instance_id}"
            if infra.service_instance_id
            else None
        ),
        security=infra.kafka_security,
    )
    if infra.metrics_port:
        config.update(lag_sampling(service))
    return config


def service_worker(
    infra: InfraSettings,
    *,
    service: str,
    topic: str,
    event_type: type[E],
    handle: Handler[E],
    producer: EventProducer,
    max_in_flight: int,
    set_aside: SetAside | None = None,
    on_partitions_changed: Callable[[frozenset[int]], None] | None = None,
) -> EventWorker[E]:
    """An `EventWorker` over `topic` in `service`'s consumer group, dead-lettering to the
    namespace's dead-letter topic (the wiring every service shares)."""
    return EventWorker(
        service=service,
        topic=topic,
        event_type=event_type,
        handle=handle,
        consumer_config=worker_consumer_config(infra, service),
        producer=producer,
        dead_letter_topic=infra.topics.dead_letters,
        max_in_flight=max_in_flight,
        on_partitions_changed=on_partitions_changed,
        set_aside=set_aside,
    )

"""Process lifecycle for a service: logging, topics, signals, graceful stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from services.common.admin import ensure_topics_when_reachable
from services.common.consumer import consumer_config
from services.common.logs import configure_logging
from services.common.metrics import lag_sampling, serve_metrics
from services.common.producer import EventProducer, producer_config
from services.common.redis_keys import RedisKeys
from services.common.set_aside import SetAsideAnswers
from services.common.settings import InfraSettings

logger = logging.getLogger(__name__)


def run_service(
    name: str, infra: InfraSettings, main: Callable[[asyncio.Event], Awaitable[None]]
) -> None:
    """Configure logging, ensure topics exist, serve `/metrics` when `METRICS_PORT` is set,
    then run `main(stop)` until SIGTERM/SIGINT."""
    configure_logging(infra.log_level)
    # First, so a scrape sees the process up even while it waits for the broker.
    metrics = serve_metrics(name, host=infra.metrics_host, port=infra.metrics_port)
    ensure_topics_when_reachable(infra)

    async def supervised() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        logger.info("%s starting (namespace=%s)", name, infra.topic_namespace)
        await main(stop)

    try:
        asyncio.run(supervised())
    finally:
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()


def make_producer(infra: InfraSettings, service: str) -> EventProducer:
    """The process's one producer (started lazily on first send)."""
    return EventProducer(
        config=producer_config(
            infra.kafka_bootstrap_servers,
            client_id=f"{service}-{os.getpid()}",
            security=infra.kafka_security,
        )
    )


def make_set_aside(
    infra: InfraSettings, *, producer: EventProducer, redis: Redis
) -> SetAsideAnswers:
    """The failed-answer publisher for dead-lettered pipeline messages."""
    return SetAsideAnswers(
        producer=producer,
        redis=redis,
        keys=RedisKeys(infra.topic_namespace),
        responses_topic=infra.topics.responses,
        ttl_s=infra.result_ttl_s,
    )


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

"""`python -m services.dispatcher`: run one dispatcher instance."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket

from providers.catalogue import Catalogue
from services.common.circuit_states import publish_circuits
from services.common.redis_keys import RedisKeys
from services.common.spend import SpendLedger
from services.common.startup import ServiceRun, run_service
from services.dispatcher import delta_coalescing
from services.dispatcher.cache import RedisCompletionCache
from services.dispatcher.circuits import CircuitBoard
from services.dispatcher.delta_history import DeltaHistory
from services.dispatcher.dispatch_lease import RedisDispatchLease
from services.dispatcher.inflight import InFlightAttempts
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.status_view import ProviderStatusView, StatusFeed
from services.dispatcher.worker import SERVICE, build_worker

STATUS_CHECK_INTERVAL_S = 5.0
"""How often the status feed's freshness is checked (and logged when it turns stale)."""


async def watch_status_feed(feed: StatusFeed, stop: asyncio.Event) -> None:
    while not stop.is_set():
        feed.report()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STATUS_CHECK_INTERVAL_S)


async def _ended(task: asyncio.Task[None]) -> None:
    """Stop a background task and wait for its own clean-up (the circuits' entry removed)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    settings = DispatcherSettings()
    infra = settings.infra
    delta_coalescing.configure(settings.delta_coalesce_ms)

    async def run(service: ServiceRun) -> None:
        providers = service.providers(settings.providers)
        redis = service.redis(settings.max_in_flight)
        view = ProviderStatusView(stale_after_s=settings.health_stale_after_s)
        inflight = InFlightAttempts()
        feed = StatusFeed(
            view=view,
            bootstrap_servers=infra.kafka_bootstrap_servers,
            security=infra.kafka_security,
            topic=infra.topics.provider_health,
            stale_after_s=settings.health_stale_after_s,
            on_down=inflight.cancel_provider,
        ).start()
        service.on_exit(feed.stop)
        watcher = asyncio.create_task(watch_status_feed(feed, service.stop))
        service.on_exit(watcher.cancel)
        keys = RedisKeys(infra.topic_namespace)
        circuits = CircuitBoard()
        instance = infra.service_instance_id or f"{socket.gethostname()}-{os.getpid()}"
        publisher = asyncio.create_task(
            publish_circuits(redis, keys, instance, circuits.snapshot, service.stop)
        )
        service.on_exit_async(functools.partial(_ended, publisher))
        worker = build_worker(
            settings,
            producer=service.producer,
            providers=providers,
            catalogue=Catalogue.load(settings.providers.catalogue_path),
            health=view,
            cache=RedisCompletionCache(redis=redis, keys=keys, ttl_s=infra.result_ttl_s),
            lease=RedisDispatchLease(
                redis=redis,
                keys=keys,
                ttl_s=settings.lease_ttl_s,
                began_ttl_s=settings.recovery_window_s,
            ),
            set_aside=service.set_aside(redis),
            ledger=SpendLedger(redis=redis, namespace=infra.topic_namespace),
            inflight=inflight,
            circuits=circuits,
            history=DeltaHistory(
                bootstrap_servers=infra.kafka_bootstrap_servers,
                security=infra.kafka_security,
                topic=infra.topics.answer_deltas,
            ),
        )
        await worker.run(service.stop)

    run_service(SERVICE, infra, run)


if __name__ == "__main__":
    main()

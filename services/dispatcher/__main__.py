"""`python -m services.dispatcher`: run one dispatcher instance."""

from __future__ import annotations

import asyncio
import contextlib

from providers.catalogue import Catalogue
from providers.registry import build_providers, close_providers
from services.common.redis_client import async_redis
from services.common.redis_keys import RedisKeys
from services.common.runner import make_producer, make_set_aside, run_service
from services.common.spend import SpendLedger
from services.dispatcher.cache import RedisCompletionCache
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


def main() -> None:
    settings = DispatcherSettings()
    infra = settings.infra

    async def run(stop: asyncio.Event) -> None:
        producer = make_producer(infra, SERVICE)
        providers = build_providers(settings.providers)
        redis = async_redis(infra.redis_url, concurrency=settings.max_in_flight)
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
        watcher = asyncio.create_task(watch_status_feed(feed, stop))
        try:
            worker = build_worker(
                settings,
                producer=producer,
                providers=providers,
                catalogue=Catalogue.load(settings.providers.catalogue_path),
                health=view,
                cache=RedisCompletionCache(
                    redis=redis, keys=RedisKeys(infra.topic_namespace), ttl_s=infra.result_ttl_s
                ),
                lease=RedisDispatchLease(
                    redis=redis, keys=RedisKeys(infra.topic_namespace), ttl_s=settings.lease_ttl_s
                ),
                set_aside=make_set_aside(infra, producer=producer, redis=redis),
                ledger=SpendLedger(redis=redis, namespace=infra.topic_namespace),
                inflight=inflight,
            )
            await worker.run(stop)
        finally:
            watcher.cancel()
            feed.stop()
            producer.close()
            await close_providers(providers)
            await redis.aclose()

    run_service(SERVICE, infra, run)


if __name__ == "__main__":
    main()

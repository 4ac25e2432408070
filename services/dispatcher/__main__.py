"""`python -m services.dispatcher`: run one dispatcher instance."""

from __future__ import annotations

import asyncio

from providers.registry import build_providers, close_providers
from redis.asyncio import Redis

from providers.catalogue import Catalogue
from services.common.redis_keys import RedisKeys
from services.common.runner import make_producer, run_service
from services.dispatcher.cache import RedisCompletionCache
from services.dispatcher.health_view import HealthTopicReader, HealthView
from services.dispatcher.settings import DispatcherSettings
from services.dispatcher.worker import SERVICE, build_worker


def main() -> None:
    settings = DispatcherSettings()
    infra = settings.infra

    async def run(stop: asyncio.Event) -> None:
        producer = make_producer(infra, SERVICE)
        providers = build_providers(settings.providers)
        redis = Redis.from_url(infra.redis_url)
        view = HealthView(stale_after_s=settings.health_stale_after_s)
        reader = HealthTopicReader(
            view=view,
            bootstrap_servers=infra.kafka_bootstrap_servers,
            topic=infra.topics.provider_health,
        )
        reader.start()
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
            )
            await worker.run(stop)
        finally:
            reader.stop()
            producer.close()
            await close_providers(providers)
            await redis.aclose()

    run_service(SERVICE, infra, run)


if __name__ == "__main__":
    main()

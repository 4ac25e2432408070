"""`python -m services.scorer`: run one scorer instance."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from providers.catalogue import Catalogue
from providers.registry import build_providers, close_providers
from services.common.redis_keys import RedisKeys
from services.common.runner import make_producer, run_service
from services.scorer.cross_check import ProviderCrossCheck
from services.scorer.handler import Scorer
from services.scorer.settings import ScorerSettings
from services.scorer.stores import RedisHistoryStore, RedisResultStore
from services.scorer.worker import SERVICE, build_worker


def main() -> None:
    settings = ScorerSettings()
    infra = settings.infra

    async def run(stop: asyncio.Event) -> None:
        producer = make_producer(infra, SERVICE)
        providers = build_providers(settings.providers)
        catalogue = Catalogue.load(settings.providers.catalogue_path)
        redis = Redis.from_url(infra.redis_url)
        keys = RedisKeys(infra.topic_namespace)
        scorer = Scorer(
            catalogue=catalogue,
            history=RedisHistoryStore(redis=redis, keys=keys),
            results=RedisResultStore(redis=redis, keys=keys, ttl_s=infra.result_ttl_s),
            cross_check=ProviderCrossCheck(
                providers=providers,
                second=catalogue.get(settings.cross_check_provider, settings.cross_check_model),
                always=settings.cross_check_always,
            ),
            topics=infra.topics,
        )
        try:
            await build_worker(settings, producer=producer, scorer=scorer).run(stop)
        finally:
            producer.close()
            await close_providers(providers)
            await redis.aclose()

    run_service(SERVICE, infra, run)


if __name__ == "__main__":
    main()

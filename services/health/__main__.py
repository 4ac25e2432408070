"""`python -m services.health`: run the provider health monitor."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from providers.registry import build_providers, close_providers
from services.common.runner import make_producer, run_service
from services.health.settings import HealthSettings
from services.health.worker import SERVICE, HealthService

REDIS_SOCKET_TIMEOUT_S = 2.0


def main() -> None:
    settings = HealthSettings()
    infra = settings.infra

    async def run(stop: asyncio.Event) -> None:
        producer = make_producer(infra, SERVICE)
        providers = build_providers(settings.providers)
        redis = Redis.from_url(infra.redis_url, socket_timeout=REDIS_SOCKET_TIMEOUT_S,
                               socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S)
        try:
            service = HealthService(settings, producer=producer, redis=redis,
                                    providers=providers)
            await service.run(stop)
        finally:
            producer.close()
            await close_providers(providers)
            await redis.aclose()

    run_service(SERVICE, infra, run)


if __name__ == "__main__":
    main()

"""`python -m services.health`: run the provider health monitor."""

from __future__ import annotations

from redis.asyncio import Redis

from services.common.startup import ServiceRun, run_service
from services.health.settings import HealthSettings
from services.health.worker import SERVICE, HealthService

REDIS_SOCKET_TIMEOUT_S = 2.0


def main() -> None:
    settings = HealthSettings()

    async def run(service: ServiceRun) -> None:
        providers = service.providers(settings.providers)
        redis = Redis.from_url(settings.infra.redis_url, socket_timeout=REDIS_SOCKET_TIMEOUT_S,
                               socket_connect_timeout=REDIS_SOCKET_TIMEOUT_S)
        service.on_exit_async(redis.aclose)
        monitor = HealthService(settings, producer=service.producer, redis=redis,
                                providers=providers)
        await monitor.run(service.stop)

    run_service(SERVICE, settings.infra, run)


if __name__ == "__main__":
    main()

"""`python -m services.classifier`: run one classifier instance."""

from __future__ import annotations

import asyncio

from services.classifier.settings import ClassifierSettings
from services.classifier.worker import SERVICE, build_worker
from services.common.redis_client import async_redis
from services.common.runner import make_producer, make_set_aside, run_service


def main() -> None:
    settings = ClassifierSettings()
    infra = settings.infra

    async def run(stop: asyncio.Event) -> None:
        producer = make_producer(infra, SERVICE)
        redis = async_redis(infra.redis_url, concurrency=settings.max_in_flight)
        worker = build_worker(
            settings,
            producer=producer,
            set_aside=make_set_aside(infra, producer=producer, redis=redis),
        )
        try:
            await worker.run(stop)
        finally:
            producer.close()
            await redis.aclose()

    run_service(SERVICE, infra, run)


if __name__ == "__main__":
    main()

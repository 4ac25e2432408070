"""`python -m services.classifier`: run one classifier instance."""

from __future__ import annotations

import asyncio
import logging
import sys

from services.classifier.embedder import EmbedderError
from services.classifier.settings import ClassifierSettings
from services.classifier.tier_model import ArtifactError
from services.classifier.tier_router import TierRouter
from services.classifier.worker import SERVICE, build_worker
from services.common.logs import configure_logging
from services.common.redis_client import async_redis
from services.common.runner import make_producer, make_set_aside, run_service

logger = logging.getLogger(__name__)


def main() -> None:
    settings = ClassifierSettings()
    infra = settings.infra
    configure_logging(infra.log_level)
    try:
        router = TierRouter.load(settings.router_path)
    except (ArtifactError, EmbedderError) as err:
        # No fallback to the keyword rules: a half-working router would route silently wrong.
        sys.exit(f"classifier: cannot start: {err}")
    logger.info("router loaded version=%s path=%s", router.version, settings.router_path)

    async def run(stop: asyncio.Event) -> None:
        producer = make_producer(infra, SERVICE)
        redis = async_redis(infra.redis_url, concurrency=settings.max_in_flight)
        worker = build_worker(
            settings,
            producer=producer,
            router=router,
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

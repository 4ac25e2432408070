"""`python -m services.classifier`: run one classifier instance."""

from __future__ import annotations

import logging
import sys

from services.classifier.embedder import EmbedderError
from services.classifier.settings import ClassifierSettings
from services.classifier.tier_model import ArtifactError
from services.classifier.tier_router import TierRouter
from services.classifier.worker import SERVICE, build_worker
from services.common.logs import configure_logging
from services.common.startup import ServiceRun, run_service

logger = logging.getLogger(__name__)


def main() -> None:
    settings = ClassifierSettings()
    configure_logging(settings.infra.log_level)
    try:
        router = TierRouter.load(settings.router_path)
    except (ArtifactError, EmbedderError) as err:
        # No fallback to the keyword rules: a half-working router would route silently wrong.
        sys.exit(f"classifier: cannot start: {err}")
    logger.info("router loaded version=%s path=%s", router.version, settings.router_path)

    async def run(service: ServiceRun) -> None:
        redis = service.redis(settings.max_in_flight)
        worker = build_worker(
            settings, producer=service.producer, router=router, set_aside=service.set_aside(redis)
        )
        await worker.run(service.stop)

    run_service(SERVICE, settings.infra, run)


if __name__ == "__main__":
    main()

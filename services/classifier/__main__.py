"""`python -m services.classifier`: run one classifier instance."""

from __future__ import annotations

import logging
import sys

from core.capability_policy import CapabilityPolicy
from providers.local_server import resolve_model_path
from schemas.capability import CapabilityFileError, GgufIdentity
from services.classifier.embedder import EmbedderError
from services.classifier.settings import ClassifierSettings
from services.classifier.tier_model import ArtifactError
from services.classifier.tier_router import TierRouter
from services.classifier.worker import SERVICE, build_worker
from services.common.logs import configure_logging
from services.common.startup import ServiceRun, run_service

logger = logging.getLogger(__name__)


def load_capability(settings: ClassifierSettings) -> CapabilityPolicy:
    """The capability policy from `CLASSIFIER_CAPABILITY_PATH`, with a warning when the
    file measured another local model than `LOCAL_MODEL_PATH` names. Raises
    CapabilityFileError for a missing or invalid file."""
    policy = CapabilityPolicy.load(settings.capability_path, settings.local_min_usable)
    try:
        path = resolve_model_path(settings.providers)
        configured = GgufIdentity(file=path.name, bytes=path.stat().st_size)
    except (OSError, KeyError, ValueError) as err:
        logger.warning("capability: cannot check which local model is configured: %s", err)
    else:
        mismatch = policy.model_mismatch(configured)
        if mismatch is not None:
            logger.warning("capability figures may be stale: %s", mismatch)
    logger.info(
        "capability loaded path=%s threshold=%.2f local_kinds=%s",
        settings.capability_path,
        policy.threshold,
        ",".join(policy.local_kinds()) or "none",
    )
    return policy


def main() -> None:
    settings = ClassifierSettings()
    configure_logging(settings.infra.log_level)
    try:
        router = TierRouter.load(settings.router_path)
        # No silent default: without the measured rates every routine kind would go to
        # one model or the other by accident (docs/routing.md).
        capability = load_capability(settings)
    except (ArtifactError, EmbedderError, CapabilityFileError) as err:
        # No fallback to the keyword rules: a half-working router would route silently wrong.
        sys.exit(f"classifier: cannot start: {err}")
    logger.info("router loaded version=%s path=%s", router.version, settings.router_path)

    async def run(service: ServiceRun) -> None:
        redis = service.redis(settings.max_in_flight)
        worker = build_worker(
            settings,
            producer=service.producer,
            router=router,
            capability=capability,
            set_aside=service.set_aside(redis),
        )
        await worker.run(service.stop)

    run_service(SERVICE, settings.infra, run)


if __name__ == "__main__":
    main()

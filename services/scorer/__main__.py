"""`python -m services.scorer`: run one scorer instance."""

from __future__ import annotations

import asyncio

from providers.catalogue import Catalogue
from services.common.once import Once
from services.common.redis_keys import RedisKeys
from services.common.spend import SpendLedger
from services.common.startup import ServiceRun, run_service
from services.scorer.calibration import CalibrationView, start_following
from services.scorer.cross_check import ProviderCrossCheck
from services.scorer.feedback import FeedbackTally, build_feedback_worker
from services.scorer.handler import Scorer
from services.scorer.settings import ScorerSettings
from services.scorer.stores import (
    RedisEscalationDecisions,
    RedisHistoryStore,
    RedisResultStore,
)
from services.scorer.worker import SERVICE, build_worker


def main() -> None:
    settings = ScorerSettings()
    infra = settings.infra

    async def run(service: ServiceRun) -> None:
        producer = service.producer
        providers = service.providers(settings.providers)
        catalogue = Catalogue.load(settings.providers.catalogue_path)
        redis = service.redis(settings.max_in_flight)
        keys = RedisKeys(infra.topic_namespace)
        once = Once(redis=redis, result_ttl_s=infra.result_ttl_s)
        calibration = CalibrationView()
        follower = await asyncio.to_thread(
            start_following,
            calibration,
            bootstrap_servers=infra.kafka_bootstrap_servers,
            security=infra.kafka_security,
            topic=infra.topics.calibrations,
            catch_up_s=settings.calibration_catch_up_s,
        )
        service.on_exit(follower.stop)
        scorer = Scorer(
            catalogue=catalogue,
            history=RedisHistoryStore(redis=redis, keys=keys),
            results=RedisResultStore(redis=redis, keys=keys, ttl_s=infra.result_ttl_s),
            cross_check=ProviderCrossCheck(
                providers=providers,
                second=catalogue.get(settings.cross_check_provider, settings.cross_check_model),
                always=settings.cross_check_always,
                timeout_s=settings.cross_check_timeout_s,
                once=once,
                keys=keys,
                ledger=SpendLedger(redis=redis, namespace=infra.topic_namespace),
            ),
            topics=infra.topics,
            calibration=calibration,
            escalation=settings.escalation_policy(),
            decisions=RedisEscalationDecisions(once=once, keys=keys),
        )
        worker = build_worker(
            settings, producer=producer, scorer=scorer, set_aside=service.set_aside(redis)
        )
        feedback = build_feedback_worker(
            settings, producer=producer, tally=FeedbackTally(redis=redis, keys=keys)
        )
        async with asyncio.TaskGroup() as workers:  # one failing stops the other
            workers.create_task(worker.run(service.stop))
            workers.create_task(feedback.run(service.stop))

    run_service(SERVICE, infra, run)


if __name__ == "__main__":
    main()

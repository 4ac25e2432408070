"""Graded outcomes from the feedback topic into the scorer's historical-accuracy counts.

A small consumer in the scorer process (its own consumer group, `scorer-feedback`)
reads every `FeedbackGiven` and adds it to a Redis hash per (provider, model,
analysis type): `total` graded answers, `correct` of them right (`partial` kept
apart for reporting; a partially correct answer is not a right one). The scorer's
`RedisHistoryStore` reads the hash, and `core.confidence.historical_accuracy` turns
it into the mean of the Beta posterior, Beta(1 + correct, 1 + total - correct).

Counting is idempotent by feedback event id: the id goes into a set next to the
hash in the same Lua script, so a redelivered event, or the same event read again
while rebuilding, counts once. The counts are derived data: `audit accuracy
--rebuild` deletes them and reads the topic again from its start.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from schemas.feedback import FeedbackGiven
from services.common.producer import EventProducer
from services.common.redis_keys import RedisKeys
from services.common.startup import service_worker
from services.common.worker import EventWorker, Outgoing
from services.scorer.settings import ScorerSettings

logger = logging.getLogger(__name__)

SERVICE = "scorer-feedback"
MAX_IN_FLIGHT = 16
UNKNOWN_TYPE = "general"
"""The analysis type counted for feedback on an answer that recorded none."""

_COUNT_ONCE = """
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'total', 1)
if ARGV[2] ~= '' then redis.call('HINCRBY', KEYS[1], ARGV[2], 1) end
return 1
"""
"""KEYS: accuracy hash, counted-ids set. ARGV: event id, field to add one to ('' for none)."""

_FIELD = {"correct": "correct", "partially_correct": "partial", "incorrect": ""}


def count_args(keys: RedisKeys, event: FeedbackGiven) -> tuple[Any, ...] | None:
    """The EVAL arguments that count `event` once; None when it grades no model (the
    analysis failed, so nothing answered)."""
    if event.provider is None or event.model is None:
        return None
    analysis_type = event.analysis_type or UNKNOWN_TYPE
    return (
        _COUNT_ONCE,
        2,
        keys.accuracy(event.provider, event.model, analysis_type),
        keys.accuracy_counted(event.provider, event.model, analysis_type),
        event.event_id,
        _FIELD[event.rating],
    )


class FeedbackTally:
    """Handler of the feedback worker: counts each graded answer once; publishes nothing.

    A Redis error propagates, so the worker retries the message (a lost count would
    bias the accuracy until the next rebuild).
    """

    def __init__(self, *, redis: Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys

    async def handle(self, event: FeedbackGiven) -> Sequence[Outgoing]:
        args = count_args(self._keys, event)
        if args is None:
            logger.info("feedback=%s grades a failed analysis; not counted", event.event_id)
            return []
        counted = await self._redis.eval(*args)
        logger.info(
            "feedback=%s analysis=%s %s/%s %s: %s",
            event.event_id,
            event.analysis_id,
            event.provider,
            event.model,
            event.rating,
            "counted" if counted else "already counted",
        )
        return []


def build_feedback_worker(
    settings: ScorerSettings, *, producer: EventProducer, tally: FeedbackTally
) -> EventWorker[FeedbackGiven]:
    """The feedback consumer: its own group, so every feedback event is counted once per
    namespace however many scorer instances run."""
    return service_worker(
        settings.infra,
        service=SERVICE,
        topic=settings.infra.topics.feedback,
        event_type=FeedbackGiven,
        handle=tally.handle,
        producer=producer,
        max_in_flight=MAX_IN_FLIGHT,
    )

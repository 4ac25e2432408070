"""Redis adapters for the scorer: graded history in, finished results out."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from core.confidence import History
from schemas.response import AnalysisResponded
from services.common.once import Once
from services.common.redis_keys import RedisKeys
from services.common.results import result_write_args

logger = logging.getLogger(__name__)


class RedisHistoryStore:
    """Reads {correct, total} per provider/model/type; a missing or unreadable key is neutral."""

    def __init__(self, *, redis: Redis, keys: RedisKeys) -> None:
        self._redis = redis
        self._keys = keys

    async def get(self, provider: str, model: str, analysis_type: str) -> History:
        try:
            raw = await self._redis.hgetall(self._keys.accuracy(provider, model, analysis_type))
        except RedisError as err:
            logger.warning("history read failed, using the neutral prior: %s", err)
            return History()
        try:
            correct, total = int(raw.get(b"correct", 0)), int(raw.get(b"total", 0))
        except ValueError:
            return History()
        return History(correct=min(correct, total), total=total)


class RedisResultStore:
    """Stores the response by id (TTL) so GET /analyses/<id> works after the wait ends.

    A Redis error propagates: the worker retries the message, because an answer that
    is only on the topic is lost to callers of the async API.
    """

    def __init__(self, *, redis: Redis, keys: RedisKeys, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s

    async def save(self, response: AnalysisResponded) -> bool:
        """True when stored; False when an earlier answer for the id stays (first wins)."""
        stored = await self._redis.eval(*result_write_args(self._keys, response, self._ttl_s))
        if not stored:
            logger.info("analysis=%s already answered; kept the first answer", response.analysis_id)
        return bool(stored)

    async def current(self, analysis_id: str) -> AnalysisResponded | None:
        """The stored answer; raises redis.RedisError."""
        raw = await self._redis.get(self._keys.result(analysis_id))
        return None if raw is None else AnalysisResponded.from_bytes(raw)


ESCALATION_STEP = "escalation"


class RedisEscalationDecisions:
    """The escalate-or-answer decision for one completion, taken once (`Once`): the
    reason to escalate, or an empty value for "answer".

    The decision depends on the calibration in force and the history at the time, so a
    redelivered completion could decide differently; the first decision is stored under
    the completion's query id and every later delivery reads it back. Redis errors
    propagate (the worker retries), so a failure is never taken for "not decided".
    """

    def __init__(self, *, once: Once, keys: RedisKeys) -> None:
        self._once = once
        self._keys = keys

    async def decide(self, query_id: str, reason: str | None) -> str | None:
        """`reason` the first time for this query id; the stored decision after that."""

        async def first_decision() -> bytes:
            return (reason or "").encode()

        stored, _ = await self._once.run(
            result_key=self._keys.escalation(query_id),
            lease_key=self._keys.lease(ESCALATION_STEP, query_id),
            compute=first_decision,
        )
        return stored.decode() if stored else None

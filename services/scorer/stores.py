"""Redis adapters for the scorer: graded history in, finished results out."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.response import AnalysisResponded
from services.common.redis_keys import RedisKeys
from services.scorer.confidence import History

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
    """Stores the response by id (TTL) so GET /analyses/<id> works after the wait ends."""

    def __init__(self, *, redis: Redis, keys: RedisKeys, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s

    async def save(self, response: AnalysisResponded) -> None:
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(
                    self._keys.result(response.analysis_id), response.to_bytes(), ex=self._ttl_s
                )
                pipe.delete(self._keys.pending(response.analysis_id))
                await pipe.execute()
        except RedisError as err:
            # The response still goes out on the topic, which is what waiting callers read.
            logger.warning("result store write failed for %s: %s", response.analysis_id, err)

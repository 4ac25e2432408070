"""Completion cache in Redis: makes re-delivery after a crash cheap and idempotent."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from schemas.completion import CompletionProduced
from services.common.redis_keys import RedisKeys

logger = logging.getLogger(__name__)


class RedisCompletionCache:
    """Best effort: a Redis outage costs a repeated provider call, never a lost query."""

    def __init__(self, *, redis: Redis, keys: RedisKeys, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s

    async def get(self, query_id: str) -> CompletionProduced | None:
        try:
            raw = await self._redis.get(self._keys.completion(query_id))
        except RedisError as err:
            logger.warning("completion cache read failed: %s", err)
            return None
        if raw is None:
            return None
        try:
            return CompletionProduced.from_bytes(raw)
        except ValidationError:
            return None

    async def put(self, completion: CompletionProduced) -> None:
        try:
            await self._redis.set(
                self._keys.completion(completion.query.query_id),
                completion.to_bytes(),
                ex=self._ttl_s,
            )
        except RedisError as err:
            logger.warning("completion cache write failed: %s", err)

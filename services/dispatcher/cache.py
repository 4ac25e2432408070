"""Completion cache in Redis: makes re-delivery after a crash cheap and idempotent.

It is the "do not pay twice" guard, so it is never best effort: a Redis error is
raised (the worker's failure policy retries the message with backoff) instead of
being read as a miss, which would call a provider again for an answered query.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from redis.asyncio import Redis

from schemas.completion import CompletionProduced
from services.common.redis_keys import RedisKeys

logger = logging.getLogger(__name__)


class RedisCompletionCache:
    """Finished completions by query id, kept for `ttl_s`."""

    def __init__(self, *, redis: Redis, keys: RedisKeys, ttl_s: int) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_s = ttl_s

    async def get(self, query_id: str) -> CompletionProduced | None:
        """The stored completion, or None; raises redis.RedisError when Redis fails."""
        raw = await self._redis.get(self._keys.completion(query_id))
        if raw is None:
            return None
        try:
            return CompletionProduced.from_bytes(raw)
        except ValidationError:
            logger.warning("query=%s stored completion unreadable; dispatching again", query_id)
            return None

    async def put(self, completion: CompletionProduced) -> None:
        """Store `completion`; raises redis.RedisError when Redis fails."""
        await self._redis.set(
            self._keys.completion(completion.query.query_id),
            completion.to_bytes(),
            ex=self._ttl_s,
        )

"""Who may call providers for a query right now: a lease in Redis (`SET NX PX`).

Two deliveries of one query can be in flight at once (a rebalance, a retry, a
redelivery while the first is still calling). Without a lease both pay a provider.
The holder dispatches; another delivery waits for the holder's completion in the
completion cache and takes over only when the lease expires without one (its
holder died). The TTL is the route budget plus a margin, so a live holder always
finishes first. A Redis error is raised: the worker retries the message rather
than dispatch without the guard.
"""

from __future__ import annotations

import uuid

from redis.asyncio import Redis

from services.common.redis_keys import RedisKeys

LEASE_STEP = "dispatch"
"""The paid step this lease guards, in `RedisKeys.lease(step, query_id)`."""

RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
"""Delete the lease only if it is still ours (it may have expired and been taken over)."""


class RedisDispatchLease:
    """One lease per query id; `acquire` returns a token to `release` with, or None."""

    def __init__(self, *, redis: Redis, keys: RedisKeys, ttl_s: float) -> None:
        self._redis = redis
        self._keys = keys
        self._ttl_ms = max(int(ttl_s * 1000), 1)

    async def acquire(self, query_id: str) -> str | None:
        """Take the lease if nobody holds it; raises redis.RedisError."""
        token = uuid.uuid4().hex
        taken = await self._redis.set(
            self._keys.lease(LEASE_STEP, query_id), token, nx=True, px=self._ttl_ms
        )
        return token if taken else None

    async def held(self, query_id: str) -> bool:
        """True while some delivery holds the lease; raises redis.RedisError."""
        return bool(await self._redis.exists(self._keys.lease(LEASE_STEP, query_id)))

    async def release(self, query_id: str, token: str) -> None:
        """Give the lease back early (its completion is cached); raises redis.RedisError."""
        await self._redis.eval(  # type: ignore[misc]  # redis-py types eval loosely
            RELEASE_SCRIPT, 1, self._keys.lease(LEASE_STEP, query_id), token
        )

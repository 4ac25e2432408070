"""Who may call providers for a query right now: the shared renewed lease, by query id.

Two deliveries of one query can be in flight at once (a rebalance, a retry, a
redelivery while the first is still calling). Without a lease both pay a provider.
The holder dispatches and keeps the lease alive while it works
(`services.common.lease`); another delivery waits for the holder's completion in
the completion cache and takes over only when the lease lapses without one (its
holder died: a few seconds, not a whole route deadline). A Redis error is raised:
the worker retries the message rather than dispatch without the guard.

The lease is gone once its holder releases it or dies, so it cannot tell a redelivery
after a crash from a first delivery. `earlier_delivery` can: the first delivery to begin
dispatching records it (one `SET NX`, kept `began_ttl_s`), and any later delivery finds
the record and reads back what the earlier one showed (delta_history.py).
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.common.lease import LEASE_TTL_S, RedisLease
from services.common.redis_keys import RedisKeys

STEP = "dispatch"
BEGAN_TTL_S = 600.0
"""How long the record of a begun dispatch is kept: a redelivery after a longer outage
answers afresh (the caller is told to restart) instead of continuing the shown text."""


class RedisDispatchLease:
    """The DispatchLease of handler.py over `RedisLease`, keyed by query id."""

    def __init__(
        self,
        *,
        redis: Redis,
        keys: RedisKeys,
        ttl_s: float = LEASE_TTL_S,
        began_ttl_s: float = BEGAN_TTL_S,
    ) -> None:
        self._redis = redis
        self._lease = RedisLease(redis=redis, ttl_s=ttl_s)
        self._keys = keys
        self._began_ms = max(int(began_ttl_s * 1000), 1)

    async def earlier_delivery(self, query_id: str) -> bool:
        """True when a delivery before this one began dispatching the query (within
        `began_ttl_s`); records this one either way. Raises redis.RedisError."""
        key = self._keys.began(STEP, query_id)
        first = await self._redis.set(key, "1", nx=True, px=self._began_ms)
        return not first

    async def acquire(self, query_id: str) -> str | None:
        return await self._lease.acquire(self._keys.lease(STEP, query_id))

    async def held(self, query_id: str) -> bool:
        return await self._lease.held(self._keys.lease(STEP, query_id))

    async def release(self, query_id: str, token: str) -> None:
        await self._lease.release(self._keys.lease(STEP, query_id), token)

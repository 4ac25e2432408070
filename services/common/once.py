"""Do a paid step at most once per key, even when two deliveries race.

A message can be handled twice at the same time (a rebalance hands it to a
second instance while the first still works on it; a retry overlaps). For a
step that costs money (a provider call, a cross-check), reading a cache before
and writing it after is not enough: both deliveries miss and both pay. So:

1. a stored result is returned as is;
2. otherwise take the lease (`RedisLease`, kept alive while the step runs) and
   compute; store the result, then release the lease;
3. a second caller that finds the lease taken waits for the first's result,
   polling with backoff; when the lease disappears without a result (the holder
   died, or its step failed), it tries to take the lease itself.

Redis errors propagate: the worker retries the message, because a Redis
failure must never be taken for "not done yet" (that would pay twice).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from services.common.lease import RedisLease

logger = logging.getLogger(__name__)

FIRST_POLL_S = 0.05
MAX_POLL_S = 0.5


class Once:
    """Runs `compute` for a key once; concurrent and later callers get its stored result."""

    def __init__(self, *, redis: Redis, result_ttl_s: int, lease: RedisLease | None = None) -> None:
        self._redis = redis
        self._result_ttl_s = result_ttl_s
        self._lease = lease or RedisLease(redis=redis)

    async def stored(self, result_key: str) -> bytes | None:
        raw = await self._redis.get(result_key)
        if raw is None:
            return None
        return raw if isinstance(raw, bytes) else raw.encode()

    async def run(
        self,
        *,
        result_key: str,
        lease_key: str,
        compute: Callable[[], Awaitable[bytes | None]],
    ) -> tuple[bytes | None, bool]:
        """(result, computed_here). A None result from `compute` is not stored (nothing
        worth reusing, e.g. a failure the next delivery may retry), but is returned."""
        poll_s = FIRST_POLL_S
        while True:
            stored = await self.stored(result_key)
            if stored is not None:
                return stored, False
            async with self._lease.hold(lease_key) as held:
                if held:
                    stored = await self.stored(result_key)  # finished just before we took it
                    if stored is not None:
                        return stored, False
                    result = await compute()
                    if result is not None:
                        await self._redis.set(result_key, result, ex=self._result_ttl_s)
                    return result, True
            logger.debug("%s held by another delivery; waiting for its result", lease_key)
            await asyncio.sleep(poll_s)
            poll_s = min(poll_s * 2, MAX_POLL_S)

"""Do a paid step at most once per key, even when two deliveries race.

A message can be handled twice at the same time (a rebalance hands it to a
second instance while the first still works on it; a retry overlaps). For a
step that costs money (a provider call, a cross-check), reading a cache before
and writing it after is not enough: both deliveries miss and both pay. So:

1. a stored result is returned as is;
2. otherwise take a lease (`SET NX PX` with a random token) and compute;
   store the result, then release the lease (only if it is still ours);
3. a second caller that finds the lease taken waits for the first's result,
   polling with backoff, until the lease expires; then it takes over (the
   first died mid-step).

Redis errors propagate: the worker retries the message, because a Redis
failure must never be taken for "not done yet" (that would pay twice).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

FIRST_POLL_S = 0.05
MAX_POLL_S = 0.5
RELEASE_IF_OURS_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Once:
    """Runs `compute` for a key once; concurrent and later callers get its stored result."""

    def __init__(self, *, redis: Redis, result_ttl_s: int) -> None:
        self._redis = redis
        self._result_ttl_s = result_ttl_s

    async def run(
        self,
        *,
        result_key: str,
        lease_key: str,
        lease_ttl_s: float,
        compute: Callable[[], Awaitable[bytes | None]],
    ) -> tuple[bytes | None, bool]:
        """(result, computed_here). A None result from `compute` is not stored (nothing
        worth reusing, e.g. a failure the next delivery may retry), but is returned."""
        poll_s = FIRST_POLL_S
        while True:
            stored = await self._redis.get(result_key)
            if stored is not None:
                return stored if isinstance(stored, bytes) else stored.encode(), False
            token = uuid.uuid4().hex
            if await self._redis.set(lease_key, token, nx=True, px=int(lease_ttl_s * 1000)):
                try:
                    result = await compute()
                    if result is not None:
                        await self._redis.set(result_key, result, ex=self._result_ttl_s)
                    return result, True
                finally:
                    await self._release(lease_key, token)
            logger.debug("%s held by another delivery; waiting for its result", lease_key)
            await asyncio.sleep(poll_s)
            poll_s = min(poll_s * 2, MAX_POLL_S)

    async def _release(self, lease_key: str, token: str) -> None:
        try:
            await self._redis.eval(RELEASE_IF_OURS_LUA, 1, lease_key, token)
        except Exception as err:  # the lease expires by itself; the result is stored
            logger.warning("could not release %s (expires by itself): %s", lease_key, err)

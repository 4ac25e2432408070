"""A lease in Redis that its holder keeps alive while it works.

Who may do a paid step for a query right now: the delivery that holds the
lease (`SET NX PX` with a random token). The TTL is short and the holder renews
it in the background while it works, so a holder that is SIGKILLed mid-step
blocks the others for one short TTL, not for the whole step's worst case (a
30 s lease made a query wait 30 s after a dispatcher crash). Release and
renewal only touch the lease while it still carries our token.

Redis errors on acquire propagate (the caller's worker retries the message);
errors while renewing or releasing are logged: the lease expires by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis

logger = logging.getLogger(__name__)

LEASE_TTL_S = 5.0
"""How long a crashed holder can block others."""
RENEW_FRACTION = 3
"""Renew every TTL / RENEW_FRACTION, so two missed renewals still keep the lease."""

RELEASE_IF_OURS_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
RENEW_IF_OURS_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLease:
    """`async with lease.hold(key) as held:` held is True when this caller got the lease."""

    def __init__(self, *, redis: Redis, ttl_s: float = LEASE_TTL_S) -> None:
        self._redis = redis
        self._ttl_ms = max(int(ttl_s * 1000), 1)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[bool]:
        token = uuid.uuid4().hex
        if not await self._redis.set(key, token, nx=True, px=self._ttl_ms):
            yield False
            return
        keeper = asyncio.create_task(self._keep_alive(key, token))
        try:
            yield True
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            try:
                await self._redis.eval(RELEASE_IF_OURS_LUA, 1, key, token)  # type: ignore[misc]
            except Exception as err:  # it expires by itself
                logger.warning("could not release %s (expires by itself): %s", key, err)

    async def held_by_anyone(self, key: str) -> bool:
        """True while some caller holds the lease; raises redis.RedisError."""
        return bool(await self._redis.exists(key))

    async def _keep_alive(self, key: str, token: str) -> None:
        interval_s = self._ttl_ms / 1000 / RENEW_FRACTION
        while True:
            await asyncio.sleep(interval_s)
            try:
                renewed = await self._redis.eval(  # type: ignore[misc]
                    RENEW_IF_OURS_LUA, 1, key, token, self._ttl_ms
                )
            except Exception as err:  # Redis blip: the next renewal may still make it
                logger.warning("could not renew %s: %s", key, err)
                continue
            if not renewed:
                logger.warning("lost %s to another holder (renewals too late)", key)
                return

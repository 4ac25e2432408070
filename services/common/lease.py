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
RENEW_RETRY_S = 0.2
"""After a failed renewal (Redis restarting, a dead pooled connection), try again this
soon rather than a whole interval later: a restart of a second or two keeps the lease."""

RELEASE_IF_OURS_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
RENEW_IF_OURS_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLease:
    """Leases by key. `acquire` starts renewing; `release` stops and deletes (if ours).

    `async with lease.hold(key) as held:` does both around a block.
    """

    def __init__(self, *, redis: Redis, ttl_s: float = LEASE_TTL_S) -> None:
        self._redis = redis
        self._ttl_ms = max(int(ttl_s * 1000), 1)
        self._keepers: dict[str, asyncio.Event] = {}
        self._renewers: set[asyncio.Task[None]] = set()

    async def acquire(self, key: str) -> str | None:
        """A token when the lease was free (now ours, renewed until `release`), else None.

        Raises redis.RedisError: an unreachable Redis is never "free".
        """
        token = uuid.uuid4().hex
        if not await self._redis.set(key, token, nx=True, px=self._ttl_ms):
            return None
        stopped = asyncio.Event()
        self._keepers[token] = stopped
        renewer = asyncio.create_task(self._keep_alive(key, token, stopped))
        self._renewers.add(renewer)  # a strong reference until it ends
        renewer.add_done_callback(self._renewers.discard)
        return token

    async def release(self, key: str, token: str) -> None:
        """Stop renewing and give the lease back if it is still ours; never raises.

        The renewer is told to stop by an event, not cancelled: a redis-py command
        cancelled at the wrong moment can swallow the cancellation (asyncio.wait_for in
        Python 3.11), and a renewer that never stops would hold the lease forever.
        """
        stopped = self._keepers.pop(token, None)
        if stopped is not None:
            stopped.set()
        try:
            await self._redis.eval(RELEASE_IF_OURS_LUA, 1, key, token)  # type: ignore[misc]
        except Exception as err:  # it expires by itself
            logger.warning("could not release %s (expires by itself): %s", key, err)

    async def held(self, key: str) -> bool:
        """True while some caller holds the lease; raises redis.RedisError."""
        return bool(await self._redis.exists(key))

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[bool]:
        token = await self.acquire(key)
        try:
            yield token is not None
        finally:
            if token is not None:
                await self.release(key, token)

    async def _keep_alive(self, key: str, token: str, stopped: asyncio.Event) -> None:
        interval_s = self._ttl_ms / 1000 / RENEW_FRACTION
        wait_s = interval_s
        while not stopped.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopped.wait(), wait_s)
            if stopped.is_set():
                return
            try:
                renewed = await self._redis.eval(  # type: ignore[misc]
                    RENEW_IF_OURS_LUA, 1, key, token, self._ttl_ms
                )
            except Exception as err:  # Redis blip: try again soon
                logger.warning("could not renew %s: %s", key, err)
                wait_s = min(RENEW_RETRY_S, interval_s)
                continue
            wait_s = interval_s
            if not renewed and not stopped.is_set():
                logger.warning("lost %s to another holder (renewals too late)", key)
                return

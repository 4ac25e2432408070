"""A lease survives a Redis restart shorter than its TTL (renewal retried soon after a failure)."""

from __future__ import annotations

import asyncio
import time

from redis.exceptions import ConnectionError as RedisConnectionError

from services.common.lease import RedisLease

TTL_S = 3.0
DOWN_FROM_S, DOWN_UNTIL_S = 0.5, 2.2
"""Redis is away from 0.5 s to 2.2 s after the lease was taken: the renewals at 1 s and 2 s
(every TTL/3) fail; the next regular one, at 3 s, would find the lease expired."""


class _RestartingRedis:
    """SET NX PX, the renew script and EXISTS over a clock; errors while 'restarting'."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.values: dict[str, tuple[str, float]] = {}

    def _now(self) -> float:
        return time.monotonic() - self.started

    def _live(self, key: str) -> str | None:
        entry = self.values.get(key)
        return entry[0] if entry and entry[1] > self._now() else None

    async def set(self, key: str, value: str, *, nx: bool, px: int) -> bool:
        if nx and self._live(key) is not None:
            return False
        self.values[key] = (value, self._now() + px / 1000)
        return True

    async def eval(self, _script: str, _n: int, key: str, token: str, *args: object) -> int:
        if DOWN_FROM_S <= self._now() < DOWN_UNTIL_S:
            raise RedisConnectionError("Connection closed by server.")
        if self._live(key) != token:
            return 0
        if args:  # renew
            self.values[key] = (token, self._now() + int(args[0]) / 1000)  # type: ignore[call-overload]
        else:  # release
            del self.values[key]
        return 1

    async def exists(self, key: str) -> int:
        return int(self._live(key) is not None)


def test_a_redis_restart_shorter_than_the_ttl_does_not_lose_the_lease() -> None:
    async def scenario() -> tuple[bool, bool]:
        redis = _RestartingRedis()
        lease = RedisLease(redis=redis, ttl_s=TTL_S)  # type: ignore[arg-type]
        token = await lease.acquire("k")
        assert token is not None
        await asyncio.sleep(TTL_S + 0.5)
        still_ours = redis._live("k") == token
        taken_by_another = await lease.acquire("k") is not None
        await lease.release("k", token)
        return still_ours, taken_by_another

    still_ours, taken_by_another = asyncio.run(scenario())
    assert still_ours
    assert not taken_by_another

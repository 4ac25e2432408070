"""`Once` on the real Redis: a paid step runs once however deliveries race."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from harness.processes import free_port
from services.common.lease import RedisLease
from services.common.once import Once
from services.common.redis_client import async_redis


def _keys() -> tuple[str, str]:
    tag = uuid.uuid4().hex
    return f"test-once:{tag}:result", f"test-once:{tag}:lease"


def test_two_deliveries_at_once_pay_once_and_both_get_the_result(redis_url: str) -> None:
    calls = 0
    result_key, lease_key = _keys()

    async def paid_step() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.5)  # a provider call in flight when the second delivery comes
        return b"the answer"

    async def scenario() -> list[tuple[bytes | None, bool]]:
        redis = async_redis(redis_url, concurrency=4)
        once = Once(redis=redis, result_ttl_s=60)
        try:
            return await asyncio.gather(
                *(
                    once.run(
                        result_key=result_key,
                        lease_key=lease_key,
                        compute=paid_step,
                    )
                    for _ in range(2)
                )
            )
        finally:
            await redis.delete(result_key, lease_key)
            await redis.aclose()

    results = asyncio.run(scenario())
    assert calls == 1
    assert sorted(results, key=lambda r: r[1]) == [(b"the answer", False), (b"the answer", True)]


def test_a_holder_that_died_is_taken_over_after_its_short_lease(redis_url: str) -> None:
    result_key, lease_key = _keys()

    async def scenario() -> tuple[bytes | None, bool]:
        redis = async_redis(redis_url, concurrency=4)
        try:
            await redis.set(lease_key, "dead-holder", px=800)  # crashed mid-step
            return await Once(redis=redis, result_ttl_s=60).run(
                result_key=result_key,
                lease_key=lease_key,
                compute=lambda: asyncio.sleep(0, b"redone"),
            )
        finally:
            await redis.delete(result_key, lease_key)
            await redis.aclose()

    assert asyncio.run(scenario()) == (b"redone", True)


def test_redis_unreachable_is_an_error_never_a_miss() -> None:
    """Taking an unreachable Redis for "not done yet" would pay twice."""
    calls = 0

    async def paid_step() -> bytes:
        nonlocal calls
        calls += 1
        return b"x"

    async def scenario() -> None:
        redis = async_redis(f"redis://127.0.0.1:{free_port()}/0", concurrency=1)
        try:
            await Once(redis=redis, result_ttl_s=60).run(
                result_key="r", lease_key="l", compute=paid_step
            )
        finally:
            await redis.aclose()

    with pytest.raises(RedisConnectionError):
        asyncio.run(scenario())
    assert calls == 0


def test_a_live_holder_keeps_its_lease_past_the_ttl(redis_url: str) -> None:
    """The holder renews while it works: a step longer than the TTL is still done once."""
    calls = 0
    result_key, lease_key = _keys()

    async def long_step() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.9)  # three TTLs of the short lease below
        return b"slow answer"

    async def scenario() -> list[tuple[bytes | None, bool]]:
        redis = async_redis(redis_url, concurrency=4)
        once = Once(redis=redis, result_ttl_s=60, lease=RedisLease(redis=redis, ttl_s=0.3))
        try:
            first = asyncio.create_task(
                once.run(result_key=result_key, lease_key=lease_key, compute=long_step)
            )
            await asyncio.sleep(0.5)  # past the first TTL: a late delivery arrives
            second = await once.run(result_key=result_key, lease_key=lease_key, compute=long_step)
            return [await first, second]
        finally:
            await redis.delete(result_key, lease_key)
            await redis.aclose()

    assert asyncio.run(scenario()) == [(b"slow answer", True), (b"slow answer", False)]
    assert calls == 1

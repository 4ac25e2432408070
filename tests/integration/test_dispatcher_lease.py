"""The dispatch lease and the completion cache on the real Redis."""

from __future__ import annotations

import asyncio
import time

import pytest
from redis.exceptions import RedisError

from harness.processes import free_port, unique_namespace
from schemas.query import QueryRequested
from services.classifier.handler import classify
from services.common.failures import Action, decide_failure
from services.common.redis_client import async_redis
from services.common.redis_keys import RedisKeys
from services.dispatcher.cache import RedisCompletionCache
from services.dispatcher.dispatch_lease import RedisDispatchLease
from tests.unit.dispatcher_fakes import ScriptedProvider, completion_of, make_dispatcher

COMPLEX = "Build a 3-phase persuasion strategy from these crosstabs, with trade-offs"
HANG_GUARD_S = 30.0


def _query(query_id: str = "q1"):
    return classify(QueryRequested(query_id=query_id, query=COMPLEX))


def _on_redis(redis_url: str, namespace: str, lease_ttl_s: float = 10.0):
    redis = async_redis(redis_url, concurrency=8)
    cache = RedisCompletionCache(redis=redis, keys=RedisKeys(namespace), ttl_s=60)
    lease = RedisDispatchLease(redis=redis, keys=RedisKeys(namespace), ttl_s=lease_ttl_s)
    return redis, cache, lease


def test_two_deliveries_at_once_pay_one_provider_call(redis_url) -> None:
    providers = [ScriptedProvider("gemini", delay_s=0.5), ScriptedProvider("perplexity"),
                 ScriptedProvider("local")]

    async def both():
        namespace = unique_namespace()
        first = _on_redis(redis_url, namespace)
        second = _on_redis(redis_url, namespace)  # another process: its own client
        try:
            return await asyncio.gather(
                make_dispatcher(providers, cache=first[1], lease=first[2]).handle(_query()),
                make_dispatcher(providers, cache=second[1], lease=second[2]).handle(_query()),
            )
        finally:
            await first[0].aclose()
            await second[0].aclose()

    a, b = asyncio.run(asyncio.wait_for(both(), HANG_GUARD_S))
    assert len(providers[0].calls) == 1
    assert completion_of(a) == completion_of(b)


def test_a_lease_left_by_a_dead_holder_is_taken_over_when_it_expires(redis_url) -> None:
    providers = [ScriptedProvider("gemini"), ScriptedProvider("perplexity"),
                 ScriptedProvider("local")]
    ttl_s = 1.5

    async def run():
        namespace = unique_namespace()
        redis, cache, lease = _on_redis(redis_url, namespace, lease_ttl_s=ttl_s)
        try:
            # A holder that died (SIGKILL): its lease is there, and nobody renews it.
            key = RedisKeys(namespace).lease("dispatch", "q1")
            assert await redis.set(key, "dead-holder", nx=True, px=int(ttl_s * 1000))
            started = time.monotonic()
            out = await make_dispatcher(providers, cache=cache, lease=lease).handle(_query())
            return out, time.monotonic() - started
        finally:
            await redis.aclose()

    out, waited_s = asyncio.run(asyncio.wait_for(run(), HANG_GUARD_S))
    assert completion_of(out).status == "succeeded"
    assert waited_s >= ttl_s * 0.8, "dispatched while another delivery held the lease"
    assert len(providers[0].calls) == 1


def test_an_unreachable_redis_is_an_error_to_retry_never_a_cache_miss() -> None:
    async def read():
        redis, cache, _lease = _on_redis(f"redis://127.0.0.1:{free_port()}/0", "nowhere")
        try:
            return await cache.get("q1")
        finally:
            await redis.aclose()

    with pytest.raises(RedisError) as raised:
        asyncio.run(asyncio.wait_for(read(), HANG_GUARD_S))
    assert decide_failure(raised.value, 1).action is Action.RETRY

"""Circuit breakers published through the real Redis: a dispatcher's board is there within
a tick, follows the board, and is gone when the dispatcher stops; a killed instance's
entry is pruned; a key of this test only."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from services.common.circuit_states import encode, publish_circuits, read_circuits
from services.common.redis_client import async_redis, sync_redis
from services.common.redis_keys import RedisKeys
from services.dispatcher.circuits import CircuitBoard

pytestmark = pytest.mark.integration

PRO = "gemini/gemini-2.5-pro"


def test_a_dispatchers_circuits_are_published_followed_and_removed(redis_url: str) -> None:
    keys = RedisKeys(f"circuits-{uuid.uuid4().hex[:8]}")
    board = CircuitBoard(failures_to_open=2, open_interval_s=30.0)
    reader = sync_redis(redis_url, concurrency=1)

    def shown() -> str | None:
        circuit = read_circuits(reader, keys).of("gemini", "gemini-2.5-pro")
        return None if circuit is None else circuit.state

    reader.hset(keys.circuits(), "killed", encode({PRO: ("open", 9)}, now=time.time() - 600))

    async def scenario() -> list[str | None]:
        client = async_redis(redis_url, concurrency=1)
        stop = asyncio.Event()
        task = asyncio.create_task(
            publish_circuits(client, keys, "dispatcher-1", board.snapshot, stop, every_s=0.1))
        seen = []
        try:
            await asyncio.sleep(0.3)
            seen.append(shown())
            assert reader.hkeys(keys.circuits()) == [b"dispatcher-1"]  # the killed one pruned
            board.failed(PRO)
            board.failed(PRO)
            await asyncio.sleep(0.3)
            seen.append(shown())
        finally:
            stop.set()
            await task
            await client.aclose()
        seen.append(shown())
        return seen

    try:
        assert asyncio.run(scenario()) == ["closed", "open", None]  # None: nobody reporting
    finally:
        reader.delete(keys.circuits())
        reader.close()

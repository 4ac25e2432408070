"""Open-loop load of streamed analyses: callers that read the strategist API's event stream.

As bench/load.py, request i leaves at `start + i / rate` whatever the server does; each
posts `POST /api/v1/strategist/analyze` with `Accept: text/event-stream` and reads the
stream to its `done` or `error` (harness/event_stream.py keeps each event's arrival
time, which bench/delta_timing.py sets against the delta events' own timestamps).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from harness.event_stream import SSE_HEADERS, StreamRead, read_stream

API = "/api/v1/strategist/analyze"
STREAM_LIMIT_S = 90.0
"""A stream not ended by then counts as left hanging (the app's own limit is 120 s of no
answer; an answer here takes seconds)."""
MAX_CONNECTIONS = 2048


async def read_one(
    client: httpx.AsyncClient, url: str, body: Mapping[str, Any], limit_s: float = STREAM_LIMIT_S
) -> StreamRead:
    """One streamed analysis, read to its end or given up as hanging after `limit_s`."""
    read = StreamRead()
    try:
        async with asyncio.timeout(limit_s):
            async with client.stream("POST", url, json=dict(body), headers=SSE_HEADERS) as response:
                if response.status_code != 200:
                    await response.aread()
                    read.status, read.failure = response.status_code, f"HTTP {response.status_code}"
                    return read
                await read_stream(response, read)
    except TimeoutError:
        read.failure = "hanging"
    except httpx.HTTPError as err:
        read.failure = type(err).__name__
    return read


async def run_stream_load(
    *,
    url: str,
    rate_qps: float,
    duration_s: float,
    body_for: Callable[[int], Mapping[str, Any]],
    headers: Mapping[str, str],
) -> list[StreamRead]:
    """`rate_qps` streamed analyses a second at `url` (the app's base URL) for
    `duration_s`; every stream read to its end."""
    count = max(1, round(rate_qps * duration_s))
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=url, timeout=STREAM_LIMIT_S, limits=limits, headers=dict(headers)
    ) as client:
        start = time.perf_counter()
        tasks: list[asyncio.Task[StreamRead]] = []
        for i in range(count):
            delay = start + i / rate_qps - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(read_one(client, API, body_for(i))))
        return list(await asyncio.gather(*tasks))

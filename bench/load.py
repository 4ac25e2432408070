"""An open-loop load generator: requests at a fixed arrival rate, whatever the server does.

Open loop because a closed loop (N clients, each waiting for its answer before the next
question) slows down with the server: a server that takes longer is sent less, and its
queueing never shows in the figures (coordinated omission). Here request i leaves at
`start + i / rate` whether or not earlier ones have been answered, and its time is
counted from that scheduled moment, so a generator that falls behind is charged to
the figures rather than hidden (its lag is reported apart).

An asyncio generator of our own rather than vegeta (or wrk2): each response's body must
be read to subtract the provider's own service time (`routing.provider_service_ms`,
stated by the provider per request) from that request's time, which vegeta's reports
cannot do. One asyncio loop with one httpx pool holds hundreds of requests in flight
in a few megabytes; its CPU is measured like every other process's (bench.processes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.stats import overhead_ms

REQUEST_TIMEOUT_S = 60.0
"""Longer than the app's own sync wait (30 s): a request is never cut short by us."""
MAX_CONNECTIONS = 2048
"""Enough for every request in flight at 400/s with 1 s provider latency, and more."""


@dataclass(frozen=True)
class Sample:
    """One request: its time from the scheduled send, and what the provider took of it."""

    total_ms: float
    provider_service_ms: float | None
    error: str | None = None
    done_s: float = 0.0
    """When the answer came, in seconds after the first scheduled send."""

    @property
    def overhead_ms(self) -> float | None:
        if self.error is not None or self.provider_service_ms is None:
            return None
        return overhead_ms(self.total_ms, self.provider_service_ms)


@dataclass
class LoadResult:
    """Every sample of one run at one rate, and how well the generator kept the rate."""

    rate_qps: float
    samples: list[Sample] = field(default_factory=list)
    wall_s: float = 0.0
    """From the first scheduled send to the last answer."""
    send_window_s: float = 0.0
    """From the first scheduled send to the last actual send."""
    max_lag_ms: float = 0.0
    """How late the generator sent its latest request (its own saturation)."""

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.overhead_ms is None)

    @property
    def achieved_qps(self) -> float:
        """Answers per second between the first answer and the last: the rate the server
        kept up with (a server that falls behind spreads its answers over a longer time)."""
        done = sorted(s.done_s for s in self.samples if s.overhead_ms is not None)
        if not done:
            return 0.0
        return len(done) / (done[-1] - done[0] + 1.0 / self.rate_qps)

    @property
    def overheads_ms(self) -> list[float]:
        return [o for s in self.samples if (o := s.overhead_ms) is not None]

    @property
    def service_ms(self) -> list[float]:
        return [
            s.provider_service_ms
            for s in self.samples
            if s.error is None and s.provider_service_ms is not None
        ]

    def error_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for s in self.samples:
            kind = s.error or ("no provider_service_ms" if s.overhead_ms is None else None)
            if kind is not None:
                kinds[kind] = kinds.get(kind, 0) + 1
        return kinds


def sample_from(status: int, body: Any, total_ms: float) -> Sample:
    """One response as a sample; anything but a completed 200 answer is an error."""
    if status != 200:
        return Sample(total_ms, None, f"HTTP {status}")
    if not isinstance(body, dict) or body.get("status") != "completed":
        status_text = body.get("status") if isinstance(body, dict) else None
        return Sample(total_ms, None, f"status {status_text}")
    routing = body.get("routing") or {}
    service = routing.get("provider_service_ms")
    return Sample(total_ms, float(service) if service is not None else None)


async def run_open_loop(
    *,
    url: str,
    rate_qps: float,
    duration_s: float,
    body_for: Callable[[int], Mapping[str, Any]],
    headers: Mapping[str, str],
    timeout_s: float = REQUEST_TIMEOUT_S,
    transport: httpx.AsyncBaseTransport | None = None,
) -> LoadResult:
    """POST `body_for(i)` to `url` at `rate_qps` for `duration_s`; wait for every answer.

    `transport` replaces the network (tests).
    """
    count = max(1, round(rate_qps * duration_s))
    interval_s = 1.0 / rate_qps
    result = LoadResult(rate_qps=rate_qps)
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS
    )
    async with httpx.AsyncClient(
        timeout=timeout_s, limits=limits, headers=dict(headers), transport=transport
    ) as client:

        async def one(i: int, scheduled: float) -> None:
            try:
                response = await client.post(url, json=dict(body_for(i)))
                body = response.json() if response.status_code == 200 else None
                sample = sample_from(response.status_code, body, _since_ms(scheduled))
            except (httpx.HTTPError, ValueError) as err:
                sample = Sample(_since_ms(scheduled), None, type(err).__name__)
            done_s = time.perf_counter() - start
            result.samples.append(dataclasses.replace(sample, done_s=done_s))

        start = time.perf_counter()
        tasks: list[asyncio.Task[None]] = []
        for i in range(count):
            scheduled = start + i * interval_s
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                result.max_lag_ms = max(result.max_lag_ms, -delay * 1000.0)
            tasks.append(asyncio.create_task(one(i, scheduled)))
        result.send_window_s = time.perf_counter() - start
        await asyncio.gather(*tasks)
        result.wall_s = time.perf_counter() - start
    return result


def _since_ms(scheduled: float) -> float:
    return (time.perf_counter() - scheduled) * 1000.0

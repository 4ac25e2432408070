"""The probe loops (one per provider, so a hanging provider delays no other) and the heartbeat.

Each loop starts a probe every interval (per provider: a billed probe runs less
often), bounds it by `timeout_s`, feeds the result to the monitor and publishes
any state change at once. With an `ownership`, a loop probes only while this
instance owns its provider (see ownership.py) and waits otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping

from providers.base import Provider
from schemas.base import ProviderName, utc_now
from services.health.handler import HealthMonitor, ProbeResult
from services.health.ownership import ProviderOwnership
from services.health.publisher import StatusPublisher

logger = logging.getLogger(__name__)

PROBE_GRACE_S = 0.1
"""Extra time past the client's own timeout before we cut the probe off ourselves,
so the client's more specific error usually wins."""


class Prober:
    """Runs the probe loops and the heartbeat until stopped."""

    def __init__(
        self,
        *,
        providers: Mapping[ProviderName, Provider],
        monitor: HealthMonitor,
        publisher: StatusPublisher,
        intervals_s: Mapping[ProviderName, float],
        timeout_s: float,
        heartbeat_s: float,
        ownership: ProviderOwnership | None = None,
        timeouts_s: Mapping[ProviderName, float] | None = None,
    ) -> None:
        """`timeouts_s` overrides `timeout_s` per provider (the local model answers probes
        only between generations, so it gets longer).

        Raises ValueError naming any provider without an interval: provider names are open
        (a catalogue may declare any), so a missing one is refused here rather than as a
        KeyError inside a running probe loop."""
        unset = sorted(set(providers) - set(intervals_s))
        if unset:
            raise ValueError(f"no probe interval for provider(s): {', '.join(unset)}")
        self._providers = dict(providers)
        self._ownership = ownership
        self._monitor = monitor
        self._publisher = publisher
        self._intervals_s = dict(intervals_s)
        self._timeout_s = timeout_s
        self._timeouts_s = dict(timeouts_s or {})
        self._heartbeat_s = heartbeat_s

    async def run(self, stop: asyncio.Event) -> None:
        logger.info("probing %s (timeout %.1fs), heartbeat every %.1fs",
                    ", ".join(f"{p} every {self._intervals_s[p]:.1f}s"
                              for p in sorted(self._providers)),
                    self._timeout_s, self._heartbeat_s)
        async with asyncio.TaskGroup() as group:
            for name, provider in self._providers.items():
                group.create_task(self._probe_loop(name, provider, stop), name=f"probe-{name}")
            group.create_task(self._heartbeat_loop(stop), name="heartbeat")

    async def _probe_loop(self, name: ProviderName, provider: Provider,
                          stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._ownership is not None and not self._ownership.owns(name):
                await self._ownership.wait_owned(name, stop)
                continue
            started = time.monotonic()
            result = await self.probe_once(provider, name=name)
            if result.outcome != "ok":
                logger.debug("probe provider=%s %s after %.0f ms", name, result.error,
                             result.latency_ms)
            await self._publisher.publish(self._monitor.on_probe(name, result))
            await _sleep_or_stop(stop, self._intervals_s[name] - (time.monotonic() - started))

    async def probe_once(
        self, provider: Provider, *, name: ProviderName | None = None
    ) -> ProbeResult:
        """One bounded probe (`name`'s own bound when it has one); never raises (every
        failure becomes a ProbeResult)."""
        started = time.monotonic()
        timeout_s = self._timeouts_s.get(name, self._timeout_s) if name else self._timeout_s
        try:
            await asyncio.wait_for(provider.probe(timeout_s), timeout_s + PROBE_GRACE_S)
        except Exception as err:
            return ProbeResult.from_error(utc_now(), _ms_since(started), err)
        return ProbeResult.ok(utc_now(), _ms_since(started))

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await _sleep_or_stop(stop, self._heartbeat_s)
            await self._publisher.publish(self._monitor.heartbeats(utc_now()))


def _ms_since(started: float) -> float:
    return (time.monotonic() - started) * 1000.0


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)

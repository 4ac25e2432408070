"""One probe is bounded and never raises, whatever the provider does."""

from __future__ import annotations

import asyncio
import time

import pytest

from providers.errors import ProviderError, ProviderUnavailable, RateLimited
from services.health.handler import HealthMonitor, Thresholds
from services.health.prober import PROBE_GRACE_S, Prober


class ProbeDouble:
    """Answers a probe, fails it with an error, or hangs."""

    emulated = True

    def __init__(self, name: str = "gemini", *, error: Exception | None = None,
                 hang: bool = False) -> None:
        self.name = name
        self.error = error
        self.hang = hang

    async def probe(self, timeout_s: float) -> None:
        if self.hang:
            await asyncio.sleep(60)  # ignores its timeout: the prober must cut it off
        if self.error is not None:
            raise self.error

    async def complete(self, request: object) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def prober(timeout_s: float = 0.2) -> Prober:
    return Prober(providers={}, monitor=HealthMonitor([], Thresholds()),
                  publisher=None,  # type: ignore[arg-type]  # probe_once publishes nothing
                  intervals_s={}, timeout_s=timeout_s, heartbeat_s=5.0)


@pytest.mark.parametrize(("provider", "outcome", "kind"), [
    (ProbeDouble(), "ok", None),
    (ProbeDouble(error=ProviderUnavailable("gemini", "connection refused")), "failed",
     "unavailable"),
    (ProbeDouble(error=RateLimited("gemini", "429")), "rate_limited", "rate_limited"),
    (ProbeDouble(error=ProviderError("gemini", "odd")), "failed", "provider_error"),
    (ProbeDouble(error=RuntimeError("bug in a client")), "failed", "unexpected"),
])
def test_probe_once_turns_every_outcome_into_a_result(provider, outcome, kind) -> None:
    result = asyncio.run(prober().probe_once(provider))
    assert (result.outcome, result.error_kind) == (outcome, kind)


def test_a_hanging_provider_is_cut_off_at_the_timeout() -> None:
    started = time.monotonic()
    result = asyncio.run(prober(timeout_s=0.2).probe_once(ProbeDouble(hang=True)))
    elapsed = time.monotonic() - started
    assert (result.outcome, result.error_kind) == ("failed", "timeout")
    assert elapsed < 0.2 + PROBE_GRACE_S + 0.2
    assert result.latency_ms >= 200.0


class SlowProbe(ProbeDouble):
    """Answers after a while, like llama.cpp's server finishing a generation first."""

    async def probe(self, timeout_s: float) -> None:
        await asyncio.sleep(0.4)


def test_a_provider_with_a_longer_bound_is_not_cut_off_at_the_default() -> None:
    slow = Prober(providers={}, monitor=HealthMonitor([], Thresholds()),
                  publisher=None,  # type: ignore[arg-type]
                  intervals_s={}, timeout_s=0.2, heartbeat_s=5.0,
                  timeouts_s={"local": 2.0})
    assert asyncio.run(slow.probe_once(SlowProbe("local"), name="local")).outcome == "ok"
    assert asyncio.run(slow.probe_once(SlowProbe("gemini"), name="gemini")).outcome == "failed"

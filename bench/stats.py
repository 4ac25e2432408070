"""Nearest-rank percentiles and summaries for the benchmark's printout and its closing JSON line."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

SUSTAINED_P99_MS = 50.0
"""A rate counts as sustained when the routed path's p99 overhead stays under this."""


def nearest_rank_percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence: always one of the
    measured values, never between two (services/health/window.py's `percentile`
    interpolates linearly instead)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def overhead_ms(total_ms: float, provider_service_ms: float) -> float:
    """What the pipeline added to one request: its time minus the provider's own.

    Never negative: clocks of two processes, and a stream's planned service time, can
    differ by a fraction of a millisecond.
    """
    return max(total_ms - provider_service_ms, 0.0)


@dataclass(frozen=True)
class Distribution:
    """p50/p95/p99/max of a sample, None throughout when it is empty."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        if not values:
            return cls(None, None, None, None)
        p50, p95, p99 = (nearest_rank_percentile(values, pct) for pct in (50, 95, 99))
        return cls(p50, p95, p99, max(values))

    def text(self) -> str:
        def fmt(value: float | None) -> str:
            return "   -" if value is None else f"{value:7.1f}"

        return (
            f"p50={fmt(self.p50)} p95={fmt(self.p95)} p99={fmt(self.p99)} "
            f"max={fmt(self.max)} ms"
        )


@dataclass(frozen=True)
class RateRun:
    """One path at one arrival rate and emulator latency, as measured."""

    path: str
    rate_qps: float
    latency_scale: float
    sent: int
    errors: int
    achieved_qps: float
    overhead: Distribution
    provider_service_p50_ms: float | None
    cpu_ms_per_query: Mapping[str, float] = field(default_factory=dict)
    rss_mb: Mapping[str, float] = field(default_factory=dict)

    def line(self) -> str:
        return (
            f"{self.path:6s} rate={self.rate_qps:5.0f}/s latency={self.latency_scale:g} "
            f"sent={self.sent:5d} errors={self.errors:4d} achieved={self.achieved_qps:6.1f}/s "
            f"overhead {self.overhead.text()}"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "rate_qps": self.rate_qps,
            "latency_scale": self.latency_scale,
            "sent": self.sent,
            "errors": self.errors,
            "achieved_qps": round(self.achieved_qps, 1),
            "overhead_p50_ms": _round(self.overhead.p50),
            "overhead_p95_ms": _round(self.overhead.p95),
            "overhead_p99_ms": _round(self.overhead.p99),
            "overhead_max_ms": _round(self.overhead.max),
            "cpu_ms_per_query": {k: round(v, 2) for k, v in self.cpu_ms_per_query.items()},
            "rss_mb": {k: round(v, 1) for k, v in self.rss_mb.items()},
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def reference_run(
    runs: Sequence[RateRun], path: str, rate_qps: float, latency_scale: float
) -> RateRun | None:
    """The run of `path` at `latency_scale` whose rate is closest to `rate_qps`."""
    candidates = [r for r in runs if r.path == path and r.latency_scale == latency_scale]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (abs(r.rate_qps - rate_qps), r.rate_qps))


def max_sustained_qps(
    runs: Sequence[RateRun], latency_scale: float, *, path: str = "routed"
) -> float | None:
    """Highest rate with no error and p99 overhead under SUSTAINED_P99_MS; None if none."""
    sustained = [
        r.rate_qps
        for r in runs
        if r.path == path
        and r.latency_scale == latency_scale
        and r.errors == 0
        and r.overhead.p99 is not None
        and r.overhead.p99 < SUSTAINED_P99_MS
    ]
    return max(sustained, default=None)


def summary(
    runs: Sequence[RateRun],
    *,
    rss_mb_total: float,
    machine: str,
    pss_mb_total: float | None = None,
    reference_qps: float = 100.0,
    sustained_latency_scale: float = 1.0,
) -> dict[str, object]:
    """The closing JSON object: the headline figures, then every run."""
    routed = reference_run(runs, "routed", reference_qps, 0.0)
    direct = reference_run(runs, "direct", reference_qps, 0.0)
    return {
        "routed_overhead_p50_ms": _round(routed.overhead.p50) if routed else None,
        "routed_overhead_p99_ms": _round(routed.overhead.p99) if routed else None,
        "direct_overhead_p50_ms": _round(direct.overhead.p50) if direct else None,
        "direct_overhead_p99_ms": _round(direct.overhead.p99) if direct else None,
        "reference_rate_qps": routed.rate_qps if routed else None,
        "max_sustained_qps": max_sustained_qps(runs, sustained_latency_scale),
        "sustained_latency_scale": sustained_latency_scale,
        "rss_mb_total": round(rss_mb_total, 1),
        "pss_mb_total": round(pss_mb_total, 1) if pss_mb_total is not None else None,
        "machine": machine,
        "runs": [r.as_json() for r in runs],
    }

"""Percentiles and summaries for the benchmark's printout."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class RunSummary:
    name: str
    requests: int
    failures: int
    wall_s: float
    overhead_ms: list[float]
    total_ms: list[float]

    @property
    def throughput(self) -> float:
        return (self.requests - self.failures) / self.wall_s if self.wall_s else 0.0

    def line(self) -> str:
        o = self.overhead_ms
        return (
            f"{self.name:12s} n={self.requests:4d} failed={self.failures:3d} "
            f"overhead p50={percentile(o, 50):7.1f} p95={percentile(o, 95):7.1f} "
            f"p99={percentile(o, 99):7.1f} ms  end-to-end p50={percentile(self.total_ms, 50):7.1f}"
            f" ms  throughput={self.throughput:6.1f} req/s"
        )

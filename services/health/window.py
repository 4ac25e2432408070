"""A sliding window over a provider's recent real-traffic attempts, and its statistics.

The window holds the last `max_samples` attempts and forgets anything older than
`span_s`, so one burst of failures an hour ago does not colour the status now,
and a quiet provider is judged by its probes alone. Pure: time is passed in.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between the two nearest ranks
    (numpy's default); None for no values. The benchmark reports measured values instead
    (`bench.stats.nearest_rank_percentile`)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Sample:
    """One attempt as the window sees it: did the provider serve it, and how fast.

    A rate-limited call (429) is not served (`ok` False) but is not an error either: the
    provider is reachable and throttling, which makes it degraded, never down.
    """

    event_id: str
    at: datetime
    ok: bool
    latency_ms: float
    rate_limited: bool = False


@dataclass(frozen=True)
class WindowStats:
    """What the recent traffic says; latencies are over successful attempts only, and
    `errors` excludes the rate-limited calls (counted in `rate_limited`)."""

    samples: int = 0
    errors: int = 0
    rate_limited: int = 0
    last_rate_limited_at: datetime | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None

    @property
    def error_rate(self) -> float:
        return self.errors / self.samples if self.samples else 0.0


class AttemptWindow:
    """The last `max_samples` attempts within `span_s` seconds; duplicates (by event id) ignored."""

    def __init__(self, *, max_samples: int, span_s: float) -> None:
        self._samples: deque[Sample] = deque()
        self._ids: set[str] = set()
        self._max_samples = max_samples
        self._span = timedelta(seconds=span_s)

    def add(self, sample: Sample) -> bool:
        """Record a sample; False when this event was already counted (a redelivery)."""
        if sample.event_id in self._ids:
            return False
        self._samples.append(sample)
        self._ids.add(sample.event_id)
        while len(self._samples) > self._max_samples:
            self._ids.discard(self._samples.popleft().event_id)
        return True

    def stats(self, now: datetime, since: datetime | None = None) -> WindowStats:
        """Statistics over samples newer than `now - span_s` (and not before `since`)."""
        cutoff = now - self._span
        if since is not None and since > cutoff:
            cutoff = since
        recent = [s for s in self._samples if s.at >= cutoff]
        if not recent:
            return WindowStats()
        limited = [s.at for s in recent if s.rate_limited]
        latencies = [s.latency_ms for s in recent if s.ok]
        return WindowStats(
            samples=len(recent),
            errors=sum(1 for s in recent if not s.ok and not s.rate_limited),
            rate_limited=len(limited),
            last_rate_limited_at=max(limited) if limited else None,
            p50_ms=percentile(latencies, 50),
            p95_ms=percentile(latencies, 95),
        )

    def __len__(self) -> int:
        return len(self._samples)

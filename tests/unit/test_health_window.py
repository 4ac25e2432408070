"""The health monitor's sliding attempt window: size and age bounds, stats, redeliveries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.health.window import AttemptWindow, Sample, percentile

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def sample(i: int, *, ok: bool = True, latency_ms: float = 100.0, age_s: float = 0.0,
           rate_limited: bool = False) -> Sample:
    return Sample(event_id=f"e{i}", at=T0 - timedelta(seconds=age_s), ok=ok,
                  latency_ms=latency_ms, rate_limited=rate_limited)


@pytest.mark.parametrize(("values", "q", "expected"), [
    ([], 50, None),
    ([7.0], 95, 7.0),
    ([1.0, 2.0, 3.0], 50, 2.0),
    ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
    ([3.0, 1.0, 2.0], 0, 1.0),
    ([3.0, 1.0, 2.0], 100, 3.0),
    (list(map(float, range(1, 101))), 95, 95.05),
])
def test_percentile_interpolates_linearly(values, q, expected) -> None:
    result = percentile(values, q)
    assert result == (None if expected is None else pytest.approx(expected))


def test_empty_window_has_no_samples_and_zero_error_rate() -> None:
    stats = AttemptWindow(max_samples=10, span_s=60).stats(T0)
    assert (stats.samples, stats.error_rate, stats.p50_ms, stats.p95_ms) == (0, 0.0, None, None)


def test_keeps_only_the_last_max_samples() -> None:
    window = AttemptWindow(max_samples=3, span_s=60)
    for i in range(5):
        window.add(sample(i, ok=i >= 3))  # e0..e2 fail, e3..e4 succeed
    stats = window.stats(T0)
    assert (stats.samples, stats.errors) == (3, 1)
    assert len(window) == 3


def test_forgets_samples_older_than_the_span() -> None:
    window = AttemptWindow(max_samples=50, span_s=60)
    window.add(sample(1, ok=False, age_s=61))
    window.add(sample(2, ok=True, age_s=59))
    stats = window.stats(T0)
    assert (stats.samples, stats.errors) == (1, 0)


def test_since_cuts_off_older_samples_inside_the_span() -> None:
    window = AttemptWindow(max_samples=50, span_s=60)
    window.add(sample(1, ok=False, age_s=10))
    window.add(sample(2, ok=True, age_s=1))
    assert window.stats(T0, since=T0 - timedelta(seconds=5)).samples == 1


def test_a_redelivered_attempt_is_counted_once() -> None:
    window = AttemptWindow(max_samples=50, span_s=60)
    assert window.add(sample(1, ok=False))
    assert not window.add(sample(1, ok=False))
    assert window.stats(T0).samples == 1


def test_latency_percentiles_are_over_successes_and_rate_limits_are_counted() -> None:
    window = AttemptWindow(max_samples=50, span_s=60)
    for i, latency in enumerate([100.0, 200.0, 300.0]):
        window.add(sample(i, latency_ms=latency))
    window.add(sample(9, ok=False, latency_ms=5000.0, rate_limited=True, age_s=2))
    stats = window.stats(T0)
    assert stats.p50_ms == 200.0
    assert stats.p95_ms == pytest.approx(290.0)
    assert stats.samples == 4 and stats.error_rate == 0.0  # a 429 is throttling, not failing
    assert stats.rate_limited == 1
    assert stats.last_rate_limited_at == T0 - timedelta(seconds=2)

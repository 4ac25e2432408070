"""First-token and total limits derived from a model's observed latency."""

from __future__ import annotations

import pytest

from providers.catalogue import DEFAULT_CATALOGUE
from providers.limits import (
    FIRST_TOKEN_FLOOR_S,
    MIN_SAMPLES,
    ObservedLatency,
    first_token_limit_s,
    quantile,
    total_limit_s,
)

PRO = DEFAULT_CATALOGUE.get("gemini", "gemini-2.5-pro")


def test_without_enough_observations_the_catalogue_ceiling_applies() -> None:
    assert first_token_limit_s(PRO, [0.5] * (MIN_SAMPLES - 1)) == PRO.first_token_limit_s
    assert total_limit_s(PRO, []) == PRO.total_timeout_s


@pytest.mark.parametrize(
    ("observed_s", "expected_s"),
    [
        ([0.85] * 50, 2.55),  # the emulator's Pro: a hang is left in under 3 s
        ([0.1] * 50, FIRST_TOKEN_FLOOR_S),  # never below the floor
        ([20.0] * 50, PRO.first_token_limit_s),  # real Pro thinking: capped by the ceiling
        ([1.0] * 94 + [5.0] * 6, 15.0),  # the slow tail counts (95th percentile)
    ],
)
def test_first_token_limit_follows_the_observed_distribution(observed_s, expected_s) -> None:
    assert first_token_limit_s(PRO, observed_s) == pytest.approx(expected_s)


def test_quantile_is_nearest_rank() -> None:
    assert quantile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_observed_latency_narrows_each_models_limits_after_enough_successes() -> None:
    flash = DEFAULT_CATALOGUE.get("gemini", "gemini-2.5-flash")
    seen = ObservedLatency()
    for _ in range(MIN_SAMPLES):
        seen.record(PRO, first_token_s=0.85, total_s=2.0)
    assert seen.first_token_limit_s(PRO) == pytest.approx(2.55)
    assert seen.total_limit_s(PRO) == pytest.approx(6.0)
    assert seen.first_token_limit_s(flash) == flash.first_token_limit_s  # not observed yet


def test_the_window_forgets_old_latencies() -> None:
    seen = ObservedLatency(size=MIN_SAMPLES)
    for _ in range(MIN_SAMPLES):
        seen.record(PRO, first_token_s=20.0, total_s=40.0)
    for _ in range(MIN_SAMPLES):
        seen.record(PRO, first_token_s=1.0, total_s=2.0)
    assert seen.first_token_limit_s(PRO) == pytest.approx(3.0)

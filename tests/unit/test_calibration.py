"""Calibration fit, identity and apply; the confidence metrics against hand-computed cases."""

from __future__ import annotations

import math
import random

import pytest

from core.calibration import Graded, fit_calibration
from core.calibration_metrics import auroc, bootstrap, brier, ece, reliability
from core.confidence import apply_calibration, calibrated
from schemas.calibration import IDENTITY, CalibrationPublished
from schemas.parts import Confidence


def _isotonic(xs: list[float], ys: list[float]) -> CalibrationPublished:
    return CalibrationPublished(
        version="iso-test", method="isotonic", xs=xs, ys=ys, n_graded=10, reason="test"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0.0, 0.1), (0.2, 0.1), (0.35, 0.3), (0.5, 0.5), (0.65, 0.6), (0.8, 0.7), (1.0, 0.7)],
)
def test_isotonic_interpolates_between_points_and_is_flat_beyond_the_ends(raw, expected) -> None:
    calibration = _isotonic([0.2, 0.5, 0.8], [0.1, 0.5, 0.7])
    assert calibrated(raw, calibration) == pytest.approx(expected)


def test_platt_is_the_fitted_sigmoid() -> None:
    calibration = CalibrationPublished(
        version="p", method="platt", slope=4.0, intercept=-2.0, n_graded=10, reason="test"
    )
    assert calibrated(0.5, calibration) == pytest.approx(0.5)
    assert calibrated(1.0, calibration) == pytest.approx(1 / (1 + math.exp(-2.0)))


def test_identity_keeps_the_score_and_says_so() -> None:
    confidence = Confidence(score=0.73, components={})
    applied = apply_calibration(confidence, IDENTITY)
    assert (applied.score, applied.raw_score, applied.calibration_version) == (
        0.73,
        0.73,
        "identity",
    )


def test_calibration_moves_score_and_keeps_raw() -> None:
    confidence = Confidence(score=0.5, components={})
    applied = apply_calibration(confidence, _isotonic([0.0, 1.0], [0.0, 0.4]))
    assert (applied.score, applied.raw_score, applied.calibration_version) == (0.2, 0.5, "iso-test")


def test_a_bad_isotonic_calibration_is_refused() -> None:
    with pytest.raises(ValueError, match="non-decreasing"):
        _isotonic([0.5, 0.2], [0.1, 0.5])


def test_below_the_minimum_the_fit_is_the_identity_and_says_why() -> None:
    graded = [Graded(str(i), 0.5, i % 2 == 0) for i in range(49)]
    calibration = fit_calibration(graded, min_graded=50)
    assert calibration.method == "identity"
    assert calibration.version == "identity"
    assert "only 49 graded outcomes" in calibration.reason
    assert calibration.n_graded == 49


def test_one_class_only_is_the_identity() -> None:
    graded = [Graded(str(i), 0.5, True) for i in range(80)]
    calibration = fit_calibration(graded, min_graded=50)
    assert calibration.method == "identity"
    assert "all 80 graded answers were right" in calibration.reason


def _overconfident(n: int, seed: int = 3) -> list[Graded]:
    """Raw scores that claim far more than they deliver: right with probability raw / 2."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        raw = rng.random()
        out.append(Graded(str(i), raw, rng.random() < raw / 2))
    return out


def test_fit_corrects_an_overconfident_score_and_records_its_measurement() -> None:
    graded = _overconfident(2000)
    calibration = fit_calibration(graded, min_graded=50)
    assert calibration.method in ("isotonic", "platt")
    assert calibration.version.startswith(calibration.method)
    assert calibration.n_graded == 2000
    chosen = calibration.metrics[f"{calibration.method}_log_loss"]
    other = "platt" if calibration.method == "isotonic" else "isotonic"
    assert chosen <= calibration.metrics[f"{other}_log_loss"]
    assert calibrated(0.8, calibration) == pytest.approx(0.4, abs=0.08)
    raw = [g.raw_score for g in graded]
    right = [g.correct for g in graded]
    after = [calibrated(r, calibration) for r in raw]
    assert ece(after, right) < 0.05 < ece(raw, right)


def test_ece_by_hand() -> None:
    # bins of width 1/15: 0.1 and 0.12 share bin 1, 0.9 is in bin 13
    predicted = [0.1, 0.12, 0.9, 0.9]
    correct = [False, True, True, True]
    # bin 1: mean prediction 0.11, share right 0.5 -> |0.39| * 2/4
    # bin 13: mean 0.9, share right 1.0 -> |0.1| * 2/4
    assert ece(predicted, correct) == pytest.approx(0.39 * 0.5 + 0.1 * 0.5)


def test_auroc_by_hand() -> None:
    # right: 0.8, 0.4; wrong: 0.6, 0.4 -> pairs: (0.8>0.6)=1, (0.8>0.4)=1, (0.4<0.6)=0,
    # (0.4=0.4)=0.5 -> 2.5 / 4
    assert auroc([0.8, 0.4, 0.6, 0.4], [True, True, False, False]) == pytest.approx(0.625)
    assert auroc([0.9, 0.1], [True, False]) == 1.0
    assert math.isnan(auroc([0.9, 0.1], [True, True]))


def test_brier_by_hand() -> None:
    assert brier([1.0, 0.0, 0.5, 0.8], [True, False, True, False]) == pytest.approx(
        (0 + 0 + 0.25 + 0.64) / 4
    )


def test_reliability_rows_count_every_answer_once() -> None:
    rows = reliability([0.1, 0.12, 0.9, 1.0], [False, True, True, True])
    assert [r.n for r in rows] == [2, 1, 1]
    assert rows[0].share_correct == 0.5
    assert rows[-1].high == 1.0


def test_bootstrap_interval_holds_the_estimate_and_is_repeatable() -> None:
    rng = random.Random(1)
    predicted = [rng.random() for _ in range(300)]
    correct = [rng.random() < p for p in predicted]
    first = bootstrap(brier, predicted, correct, rounds=200)
    again = bootstrap(brier, predicted, correct, rounds=200)
    assert first == again
    assert first.low <= first.value <= first.high
    assert first.high - first.low < 0.1

"""The confidence calibration fit: graded answers in, a `CalibrationPublished` out.

Pure (no Kafka): `audit calibrate` reads the graded answers from the topics and
publishes what this returns (audit/calibrate.py); `make eval-confidence` fits it on
simulated and real answers (evaluation/). Both import it from here.

Each graded answer gives (raw score, right or not). Two candidate maps are compared by
stratified k-fold cross-validation on held-out log loss (ECE reported beside it):
isotonic regression (monotone steps, needs more data, can overfit small sets) and Platt
scaling (a logistic curve in the raw score, two parameters). The one with the lower
held-out log loss is fitted on all the outcomes.

Below `min_graded` outcomes (or when every outcome is right, or every one wrong) the
calibration is the identity, with the reason, so `calibration_version` says "identity"
and why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from core.calibration_metrics import ece, log_loss
from core.confidence import calibrated
from schemas.base import utc_now
from schemas.calibration import IDENTITY_VERSION, CalibrationMethod, CalibrationPublished

FOLDS = 5
CV_SEED = 7
PLATT_C = 1e4
"""Logistic regression almost unregularised: Platt scaling is a maximum-likelihood fit."""
MAX_ISOTONIC_POINTS = 200
"""Enough to carry every step of a fit on tens of thousands of outcomes."""


@dataclass(frozen=True)
class Graded:
    """One graded answer: the scorer's raw score and whether the answer was right."""

    analysis_id: str
    raw_score: float
    correct: bool


def _isotonic(x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
    xs, ys = model.X_thresholds_, model.y_thresholds_
    if len(xs) > MAX_ISOTONIC_POINTS:  # keep the ends, thin the middle evenly
        keep = np.unique(np.linspace(0, len(xs) - 1, MAX_ISOTONIC_POINTS).round().astype(int))
        xs, ys = xs[keep], ys[keep]
    return [float(v) for v in xs], [float(v) for v in ys]


def _platt(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=PLATT_C).fit(x.reshape(-1, 1), y.astype(int))
    return float(model.coef_[0][0]), float(model.intercept_[0])


def fitted(method: CalibrationMethod, x: np.ndarray, y: np.ndarray) -> CalibrationPublished:
    """`method` fitted on (x, y), unversioned (for cross-validation and evaluation)."""
    if method == "isotonic":
        xs, ys = _isotonic(x, y)
        return CalibrationPublished(
            version="candidate", method="isotonic", xs=xs, ys=ys, n_graded=len(x), reason=""
        )
    slope, intercept = _platt(x, y)
    return CalibrationPublished(
        version="candidate",
        method="platt",
        slope=slope,
        intercept=intercept,
        n_graded=len(x),
        reason="",
    )


def apply(calibration: CalibrationPublished, raw: Iterable[float]) -> np.ndarray:
    """The scorer's own mapping (core.confidence.calibrated) over many raw scores."""
    return np.array([calibrated(r, calibration) for r in raw])


def cross_validate(x: np.ndarray, y: np.ndarray, folds: int = FOLDS) -> dict[str, float]:
    """Held-out log loss and ECE of each method over stratified folds (pooled)."""
    from sklearn.model_selection import StratifiedKFold

    splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=CV_SEED).split(x, y)
    held_out: dict[str, np.ndarray] = {m: np.zeros(len(x)) for m in ("isotonic", "platt")}
    for train, test in splits:
        for method in held_out:
            model = fitted(method, x[train], y[train])  # type: ignore[arg-type]
            held_out[method][test] = apply(model, x[test])
    metrics = {}
    for method, predicted in held_out.items():
        metrics[f"{method}_log_loss"] = round(log_loss(predicted, y), 5)
        metrics[f"{method}_ece"] = round(ece(predicted, y), 5)
    metrics["raw_log_loss"] = round(log_loss(x, y), 5)
    metrics["raw_ece"] = round(ece(x, y), 5)
    return metrics


def _version(calibration: CalibrationPublished) -> str:
    params = json.dumps(
        [calibration.method, calibration.xs, calibration.ys, calibration.slope,
         calibration.intercept],
    )  # fmt: skip
    digest = hashlib.sha256(params.encode()).hexdigest()[:8]
    stamp = f"{calibration.fitted_at:%Y%m%dT%H%M%SZ}"
    return f"{calibration.method}-{stamp}-n{calibration.n_graded}-{digest}"


def identity(n: int, n_correct: int, reason: str, now: datetime) -> CalibrationPublished:
    """The calibration that keeps every score, with how many outcomes there were and why."""
    return CalibrationPublished(
        version=IDENTITY_VERSION,
        method="identity",
        n_graded=n,
        n_correct=n_correct,
        fitted_at=now,
        reason=reason,
    )


def fit_calibration(
    graded: Sequence[Graded], *, min_graded: int, now: datetime | None = None
) -> CalibrationPublished:
    """The calibration these outcomes support: identity below `min_graded` (or with one
    class only), otherwise the method with the lower cross-validated log loss."""
    now = now or utc_now()
    n = len(graded)
    n_correct = sum(g.correct for g in graded)
    if n < min_graded:
        return identity(
            n, n_correct, f"only {n} graded outcomes; at least {min_graded} are needed", now
        )
    if n_correct in (0, n):
        every = "right" if n_correct else "wrong"
        return identity(n, n_correct, f"all {n} graded answers were {every}: nothing to fit", now)
    x = np.array([g.raw_score for g in graded], dtype=np.float64)
    y = np.array([g.correct for g in graded], dtype=np.float64)
    folds = max(2, min(FOLDS, n_correct, n - n_correct))
    metrics = cross_validate(x, y, folds)
    method: CalibrationMethod = (
        "isotonic" if metrics["isotonic_log_loss"] < metrics["platt_log_loss"] else "platt"
    )
    other = "platt" if method == "isotonic" else "isotonic"
    reason = (
        f"{method}: held-out log loss {metrics[f'{method}_log_loss']:.4f} vs {other} "
        f"{metrics[f'{other}_log_loss']:.4f} ({folds}-fold CV on {n} graded outcomes)"
    )
    model = fitted(method, x, y).model_copy(
        update={"n_graded": n, "n_correct": n_correct, "fitted_at": now, "reason": reason,
                "metrics": metrics}
    )  # fmt: skip
    return model.model_copy(update={"version": _version(model)})

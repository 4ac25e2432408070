"""How good a confidence score is: calibration error, ranking, Brier, reliability, intervals.

Beside the fit (core/calibration.py), which chooses its method by held-out log loss and
ECE; `make eval-confidence` (evaluation/) reports them all.

- ECE (expected calibration error): the predictions are put in 15 equal-width bins over
  [0, 1]; ECE is the mean over bins of |mean prediction - share right|, weighted by the
  bin's share of the answers. 0 means "70 % confident" is right 70 % of the time.
- AUROC: the probability that a right answer scores above a wrong one (ties count a
  half): how well the score tells them apart, whatever its scale.
- Brier score: mean squared error of the prediction against the 0/1 outcome.
- Reliability table: per bin, how many answers, their mean prediction, the share right.
- Bootstrap 95 % intervals: resample the answers with replacement, recompute, take the
  2.5th and 97.5th percentiles (fixed seed, so a rerun prints the same figures).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ECE_BINS = 15
BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_SEED = 20_260_501
INTERVAL = (2.5, 97.5)

Floats = NDArray[np.float64]
Metric = Callable[[Floats, Floats], float]


def _arrays(
    predicted: Sequence[float] | Floats, correct: Sequence[bool] | Floats
) -> tuple[Floats, Floats]:
    p = np.clip(np.asarray(predicted, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(correct, dtype=np.float64)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError("predictions and outcomes must be two sequences of the same length")
    return p, y


def bin_index(p: Floats, bins: int = ECE_BINS) -> NDArray[np.int64]:
    """Equal-width bins over [0, 1]; 1.0 falls in the last bin."""
    return np.minimum((p * bins).astype(np.int64), bins - 1)


def ece(predicted: Sequence[float] | Floats, correct: Sequence[bool] | Floats) -> float:
    p, y = _arrays(predicted, correct)
    if p.size == 0:
        return float("nan")
    idx = bin_index(p)
    total = 0.0
    for b in np.unique(idx):
        members = idx == b
        total += members.sum() / p.size * abs(p[members].mean() - y[members].mean())
    return float(total)


def auroc(predicted: Sequence[float] | Floats, correct: Sequence[bool] | Floats) -> float:
    """Mann-Whitney form: P(score of a right answer > score of a wrong one), ties a half.
    NaN when every answer is right or every answer is wrong."""
    p, y = _arrays(predicted, correct)
    positives, negatives = p[y == 1], p[y == 0]
    if positives.size == 0 or negatives.size == 0:
        return float("nan")
    order = np.sort(negatives)
    below = np.searchsorted(order, positives, side="left")
    not_above = np.searchsorted(order, positives, side="right")
    wins = below.sum() + 0.5 * (not_above - below).sum()
    return float(wins / (positives.size * negatives.size))


def brier(predicted: Sequence[float] | Floats, correct: Sequence[bool] | Floats) -> float:
    p, y = _arrays(predicted, correct)
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


@dataclass(frozen=True)
class ReliabilityRow:
    low: float
    high: float
    n: int
    mean_predicted: float
    share_correct: float


def reliability(
    predicted: Sequence[float] | Floats, correct: Sequence[bool] | Floats, bins: int = ECE_BINS
) -> list[ReliabilityRow]:
    """One row per non-empty bin."""
    p, y = _arrays(predicted, correct)
    idx = bin_index(p, bins)
    rows = []
    for b in range(bins):
        members = idx == b
        n = int(members.sum())
        if n:
            rows.append(
                ReliabilityRow(
                    low=b / bins,
                    high=(b + 1) / bins,
                    n=n,
                    mean_predicted=float(p[members].mean()),
                    share_correct=float(y[members].mean()),
                )
            )
    return rows


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap(
    metric: Metric,
    predicted: Sequence[float] | Floats,
    correct: Sequence[bool] | Floats,
    *,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = BOOTSTRAP_SEED,
) -> Estimate:
    """The metric on the data, with a percentile bootstrap 95 % interval."""
    p, y = _arrays(predicted, correct)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(rounds):
        pick = rng.integers(0, p.size, p.size)
        value = metric(p[pick], y[pick])
        if not np.isnan(value):
            values.append(value)
    low, high = np.percentile(values, INTERVAL) if values else (float("nan"), float("nan"))
    return Estimate(metric(p, y), float(low), float(high))


def log_loss(predicted: Sequence[float] | Floats, correct: Sequence[bool] | Floats) -> float:
    """Mean negative log-likelihood, predictions clipped to [1e-6, 1 - 1e-6] (a 0 or 1 that
    turns out wrong costs a lot, but not infinity)."""
    p, y = _arrays(predicted, correct)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

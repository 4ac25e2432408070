"""The cascade and the local-model guard, chosen on cross-validated probabilities.

The cascade threshold (when the TF-IDF-only heads decide alone) and the local-model
guard (how large P(complex) may be against P(simple) for the local model) are chosen on
5-fold cross-validated probabilities of the fitting data: the guard is the loosest that
keeps complex questions off the local model (LOCAL_UNDER_ROUTING_GOAL), the cascade the
one that skips the most embeddings while costing at most FAST_ACCURACY_LOSS accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedKFold

from services.classifier.dataset import Example
from services.classifier.embedder import Embedder
from services.classifier.fitting import (
    CASCADE_OFF,
    GUARD_OFF,
    MIN_DOCUMENT_FREQUENCY,
    Progress,
    embed_all,
    feature_rows,
    fit_tier_head,
)
from services.classifier.tfidf import TfidfBlock
from services.classifier.tier_model import TIERS, LinearHead

FOLDS = 5
LOCAL_UNDER_ROUTING_GOAL = 0.02
"""Cross-validated share of complex questions the guard may still send to the local
model. The issue allows 3% on new questions; the margin is for phrasings the fitting
data lacks. Tighter costs routine questions their local answers fast (docs/routing.md)."""
FAST_ACCURACY_LOSS = 0.005
"""Cross-validated accuracy the cascade may give up for skipping embeddings."""
THRESHOLD_GRID = tuple(round(0.30 + 0.01 * step, 2) for step in range(71))
GUARD_GRID = tuple(round(0.05 + 0.01 * step, 2) for step in range(96))


def _probabilities(head: LinearHead, x: np.ndarray) -> np.ndarray:
    logits = x @ head.weights.T + head.bias
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def cross_validated_probabilities(
    examples: Sequence[Example], *, seed: int, embedder: Embedder, progress: Progress
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold tier probabilities of the fast heads and of the full heads."""
    texts = [e.query for e in examples]
    labels = np.asarray([TIERS.index(e.tier) for e in examples])
    embeddings = embed_all(embedder, texts, "embedding for cross-validation", progress)
    fast = np.zeros((len(examples), len(TIERS)))
    full = np.zeros_like(fast)
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    for done, (fit_rows, held_rows) in enumerate(folds.split(texts, labels), start=1):
        fit_texts = [texts[i] for i in fit_rows]
        blocks = tuple(
            TfidfBlock.fit(kind, fit_texts, MIN_DOCUMENT_FREQUENCY) for kind in ("word", "char")
        )
        sparse, dense = feature_rows(blocks, fit_texts, embeddings[fit_rows])
        held_sparse, held_dense = feature_rows(
            blocks, [texts[i] for i in held_rows], embeddings[held_rows]
        )
        fast[held_rows] = _probabilities(fit_tier_head(sparse, labels[fit_rows], seed), held_sparse)
        full[held_rows] = _probabilities(fit_tier_head(dense, labels[fit_rows], seed), held_dense)
        progress("cross-validating the cascade", done, FOLDS)
    return fast, full


def cascade_predictions(
    fast: np.ndarray, full: np.ndarray, fast_threshold: float, guard_ratio: float
) -> tuple[np.ndarray, np.ndarray]:
    """The tiers the router would choose (as `TierRouter.decide` does), and which rows
    needed the embedding."""
    embedded = fast.max(axis=1) < fast_threshold
    chosen = np.where(embedded[:, None], full, fast)
    tiers = chosen.argmax(axis=1)
    simple, complex_ = TIERS.index("simple"), TIERS.index("complex")
    guarded = (
        (tiers == simple)
        & (guard_ratio > 0)
        & (chosen[:, complex_] >= guard_ratio * chosen[:, simple])
    )
    others = chosen.copy()
    others[:, simple] = -1.0
    return np.where(guarded, others.argmax(axis=1), tiers), embedded


def choose_thresholds(
    fast: np.ndarray, full: np.ndarray, labels: np.ndarray
) -> dict[str, float]:
    """The guard and cascade thresholds (see the module docstring), with their
    cross-validated accuracy, under-routing and share of decisions that embed."""
    complex_rows = labels == TIERS.index("complex")
    simple = TIERS.index("simple")

    def figures(fast_threshold: float, guard_ratio: float) -> tuple[float, float, float]:
        tiers, embedded = cascade_predictions(fast, full, fast_threshold, guard_ratio)
        under = float(np.mean(tiers[complex_rows] == simple)) if complex_rows.any() else 0.0
        return float(np.mean(tiers == labels)), under, float(np.mean(embedded))

    def holds(fast_threshold: float, guard_ratio: float) -> bool:
        return figures(fast_threshold, guard_ratio)[1] <= LOCAL_UNDER_ROUTING_GOAL

    guards = [r for r in GUARD_GRID if holds(CASCADE_OFF, r)]
    guard = max(guards) if guards else GUARD_OFF
    full_accuracy = figures(CASCADE_OFF, guard)[0]
    best = (CASCADE_OFF, *figures(CASCADE_OFF, guard))
    for fast_threshold in THRESHOLD_GRID:
        accuracy, under, embedded = figures(fast_threshold, guard)
        if (
            under <= LOCAL_UNDER_ROUTING_GOAL
            and accuracy >= full_accuracy - FAST_ACCURACY_LOSS
            and (embedded, -accuracy) < (best[3], -best[1])
        ):
            best = (fast_threshold, accuracy, under, embedded)
    fast_threshold, accuracy, under, embedded = best
    no_guard = figures(CASCADE_OFF, GUARD_OFF)
    return {
        "fast_threshold": fast_threshold,
        "local_guard_ratio": guard,
        "cv_accuracy_full": round(full_accuracy, 4),
        "cv_accuracy": round(accuracy, 4),
        "cv_complex_to_local": round(under, 4),
        "cv_share_embedded": round(embedded, 4),
        "cv_accuracy_no_guard": round(no_guard[0], 4),
        "cv_complex_to_local_no_guard": round(no_guard[1], 4),
    }

"""`python -m services.classifier.train --compare`: the candidate routers, scored on dev.

Every candidate (keyword rules, TF-IDF alone, MiniLM over 256 or 16 tokens, and the
chosen TF-IDF + short MiniLM) is fitted on train and scored on dev with its decision
time: the table in docs/routing.md. The test split is never read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from services.classifier.dataset import Example
from services.classifier.embedder import MAX_TOKENS, Embedder
from services.classifier.evaluate import RoutingScore, score, timed
from services.classifier.features import extract_features, rule_tier
from services.classifier.fitting import (
    EMBEDDING_SCALE,
    EMBEDDING_TOKENS,
    MAX_ITERATIONS,
    MIN_DOCUMENT_FREQUENCY,
    TIER_C,
    Progress,
)
from services.classifier.tfidf import TfidfBlock, transform_all
from services.classifier.tier_model import TIERS


def compare(
    train: Sequence[Example], dev: Sequence[Example], *, seed: int, progress: Progress
) -> list[RoutingScore]:
    """Every candidate fitted on train and scored on dev, with its decision time."""
    texts = [e.query for e in train]
    labels = np.asarray([TIERS.index(e.tier) for e in train])
    blocks = tuple(TfidfBlock.fit(kind, texts, MIN_DOCUMENT_FREQUENCY) for kind in ("word", "char"))
    width = sum(block.size for block in blocks)
    short = Embedder(max_tokens=EMBEDDING_TOKENS)
    full = Embedder(max_tokens=MAX_TOKENS)
    # name: (reads TF-IDF, embedder or None, embedding scale)
    candidates: dict[str, tuple[bool, Embedder | None, float]] = {
        "TF-IDF (words + char 2-5) + LR": (True, None, 0.0),
        f"MiniLM ({MAX_TOKENS} tokens) + LR": (False, full, 1.0),
        f"MiniLM ({EMBEDDING_TOKENS} tokens) + LR": (False, short, 1.0),
        f"TF-IDF + MiniLM ({EMBEDDING_TOKENS} tokens) + LR (chosen)": (
            True, short, EMBEDDING_SCALE
        ),
    }
    results = []
    tiers, times = timed(lambda t: rule_tier(extract_features(t)), [e.query for e in dev])
    results.append(score("keyword rules (before)", dev, tiers, times))
    for name, (uses_tfidf, embedder, scale) in candidates.items():
        offset = width if uses_tfidf else 0

        def row(text: str, tfidf: bool = uses_tfidf, model: Embedder | None = embedder,
                s: float = scale) -> np.ndarray:
            parts = [transform_all(blocks, text).dense(width)] if tfidf else []
            return np.concatenate([*parts, *([s * model.embed(text)] if model else [])])

        rows = []
        for done, text in enumerate(texts, start=1):
            rows.append(row(text))
            progress(name[:28], done, len(texts))
        head = LogisticRegression(C=TIER_C, max_iter=MAX_ITERATIONS, random_state=seed)
        head.fit(np.stack(rows), labels)
        weights, bias = head.coef_, head.intercept_

        def decide(text: str, tfidf: bool = uses_tfidf, model: Embedder | None = embedder,
                   s: float = scale, w: np.ndarray = weights, b: np.ndarray = bias,
                   start: int = offset) -> str:
            """As the classifier decides: sparse TF-IDF columns, then the embedding."""
            logits = b.copy()
            if tfidf:
                sparse = transform_all(blocks, text)
                logits += w[:, sparse.indices] @ sparse.values
            if model is not None:
                logits += w[:, start:] @ (s * model.embed(text))
            return TIERS[int(np.argmax(logits))]

        tiers, times = timed(decide, [e.query for e in dev])
        results.append(score(name, dev, tiers, times))
    return results

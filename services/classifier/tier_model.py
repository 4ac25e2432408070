"""The router artifact: a JSON file of linear weights, with a sha256 checksum beside it.

Plain JSON so that it diffs, ships in the repository (about a megabyte) and loads with
numpy alone: the classifier computes softmax(Wx + b) itself and never imports
scikit-learn. The checksum file (`<artifact>.sha256`, in `sha256sum` format) is checked
before the JSON is read, so a truncated or hand-edited artifact stops start-up instead
of routing with half a model. The version names the format and the first eight hex
digits of the content's hash, so two artifacts with one version are the same model.

Format 2 adds a cascade and a guard, both chosen by cross-validation on the fitting data
(`train.py`): a TF-IDF-only pair of heads that decides alone when it is sure (the
sentence embedding is 90% of a decision's CPU), and the least probability the simple
tier needs over the complex tier before a question goes to the local model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from schemas.parts import TIERS
from services.classifier.tfidf import TfidfBlock

ARTIFACT_FORMAT = "tier-router"
FORMAT_VERSION = 2
SIGNIFICANT_DIGITS = 6
"""Weights are written with 6 significant digits: byte-identical across runs, and the
probabilities move by less than 1e-5."""
DEFAULT_ARTIFACT = Path(__file__).resolve().parent / "models" / "tier_router.json"


class ArtifactError(RuntimeError):
    """The router artifact is missing, does not match its checksum, or is malformed.

    Always names the file: the classifier refuses to start with it (no fallback to rules).
    """

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"router artifact {path}: {problem}")
        self.path = path


def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


@dataclass(frozen=True)
class LinearHead:
    """Logits `weights @ x + bias`, one row per class."""

    classes: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.weights @ x + self.bias, dtype=np.float64)


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max())
    return np.asarray(shifted / shifted.sum(), dtype=np.float64)


def sigmoid(value: float) -> float:
    return float(1.0 / (1.0 + np.exp(-value)))


@dataclass(frozen=True)
class EmbeddingSpec:
    """How the sentence embedding enters the feature vector."""

    model: str
    max_tokens: int
    scale: float
    dimensions: int


@dataclass(frozen=True)
class FastHeads:
    """The cascade's first stage: tier and depth heads over the TF-IDF features only."""

    tiers: LinearHead
    depth: LinearHead
    threshold: float
    """The fast heads decide alone when their likeliest tier has at least this
    probability; above 1 the cascade is off and every decision reads the embedding."""


@dataclass(frozen=True)
class TierModel:
    """Everything the router needs besides the embedding model itself."""

    version: str
    blocks: tuple[TfidfBlock, ...]
    embedding: EmbeddingSpec
    tiers: LinearHead
    depth: LinearHead
    """One row: the logit that the question asks for deep analysis (complex, or live and
    deep); decides Sonar against Sonar Pro for a live question."""
    deep_threshold: float
    fast: FastHeads
    local_guard_ratio: float
    """The simple tier (the local model) is chosen only while P(complex) stays below this
    share of P(simple); otherwise the likeliest other tier answers. A Bayes decision with
    a loss 1/ratio times higher for a complex question answered by the local model than
    for a routine one answered by a paid model. 0 turns the guard off."""
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def sparse_dimensions(self) -> int:
        return sum(block.size for block in self.blocks)

    @property
    def dimensions(self) -> int:
        return self.sparse_dimensions + self.embedding.dimensions

    def to_json(self) -> dict[str, Any]:
        return {
            "format": ARTIFACT_FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "features": {
                "tfidf": [
                    {"kind": b.kind, "terms": list(b.terms), "idf": _floats(b.idf)}
                    for b in self.blocks
                ],
                "embedding": {
                    "model": self.embedding.model,
                    "max_tokens": self.embedding.max_tokens,
                    "scale": self.embedding.scale,
                    "dimensions": self.embedding.dimensions,
                },
            },
            "tiers": {**_head_json(self.tiers), "local_guard_ratio": self.local_guard_ratio},
            "depth": {**_head_json(self.depth), "threshold": self.deep_threshold},
            "fast": {
                "tiers": _head_json(self.fast.tiers),
                "depth": _head_json(self.fast.depth),
                "threshold": self.fast.threshold,
            },
            "training": self.training,
        }

    def with_content_version(self) -> TierModel:
        """This model named `tier-router-<format>-<sha8 of its content>`."""
        unnamed = _canonical({**self.to_json(), "version": ""})
        sha8 = hashlib.sha256(unnamed).hexdigest()[:8]
        return replace(self, version=f"{ARTIFACT_FORMAT}-{FORMAT_VERSION}-{sha8}")

    def write(self, path: Path) -> str:
        """Write the artifact and its checksum file; returns the sha256."""
        data = _canonical(self.to_json())
        digest = hashlib.sha256(data).hexdigest()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        checksum_path(path).write_text(f"{digest}  {path.name}\n")
        return digest

    @classmethod
    def load(cls, path: Path) -> TierModel:
        """Read and verify the artifact; raises ArtifactError naming the file."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ArtifactError(path, f"cannot read it ({err.strerror or err})") from err
        expected = _expected_digest(path)
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ArtifactError(
                path, f"checksum mismatch (file {actual[:12]}…, {checksum_path(path).name} "
                f"{expected[:12]}…): corrupt or edited; retrain with python -m "
                "services.classifier.train"
            )
        try:
            return _from_json(json.loads(data))
        except (ValueError, KeyError, TypeError) as err:
            raise ArtifactError(path, f"malformed ({err})") from err


def _expected_digest(path: Path) -> str:
    sums = checksum_path(path)
    try:
        text = sums.read_text().split()
    except OSError as err:
        raise ArtifactError(path, f"checksum file {sums} is missing or unreadable") from err
    if not text or len(text[0]) != 64:
        raise ArtifactError(path, f"checksum file {sums} holds no sha256")
    return text[0].lower()


def _from_json(raw: dict[str, Any]) -> TierModel:
    if raw["format"] != ARTIFACT_FORMAT or raw["format_version"] != FORMAT_VERSION:
        raise ValueError(f"format {raw['format']} v{raw['format_version']} is not supported")
    features = raw["features"]
    blocks = tuple(
        TfidfBlock(kind=b["kind"], terms=b["terms"], idf=b["idf"]) for b in features["tfidf"]
    )
    embedding = EmbeddingSpec(**features["embedding"])
    model = TierModel(
        version=raw["version"],
        blocks=blocks,
        embedding=embedding,
        tiers=_head(raw["tiers"]),
        depth=_head(raw["depth"]),
        deep_threshold=float(raw["depth"]["threshold"]),
        fast=FastHeads(
            tiers=_head(raw["fast"]["tiers"]),
            depth=_head(raw["fast"]["depth"]),
            threshold=float(raw["fast"]["threshold"]),
        ),
        local_guard_ratio=float(raw["tiers"]["local_guard_ratio"]),
        training=raw.get("training", {}),
    )
    for head in (model.tiers, model.fast.tiers):
        if head.classes != TIERS:
            raise ValueError(f"tier classes {head.classes} are not {TIERS}")
    for head, width in (
        (model.tiers, model.dimensions),
        (model.depth, model.dimensions),
        (model.fast.tiers, model.sparse_dimensions),
        (model.fast.depth, model.sparse_dimensions),
    ):
        if head.weights.shape != (len(head.classes), width):
            raise ValueError(f"weights {head.weights.shape} do not fit {width} features")
    return model


def _head(raw: dict[str, Any]) -> LinearHead:
    return LinearHead(
        classes=tuple(raw["classes"]),
        weights=np.asarray(raw["weights"], dtype=np.float64),
        bias=np.asarray(raw["bias"], dtype=np.float64),
    )


def _head_json(head: LinearHead) -> dict[str, Any]:
    return {
        "classes": list(head.classes),
        "weights": [_floats(row) for row in head.weights],
        "bias": _floats(head.bias),
    }


def _floats(values: Any) -> list[float]:
    return [float(f"{float(v):.{SIGNIFICANT_DIGITS}g}") for v in values]


def _canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


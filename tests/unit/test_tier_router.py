"""The router artifact: deterministic training, verified loading, explained decisions."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest

from schemas.parts import TIERS
from services.classifier.cascade import (
    FAST_ACCURACY_LOSS,
    LOCAL_UNDER_ROUTING_GOAL,
    cascade_predictions,
    choose_thresholds,
)
from services.classifier.dataset import load_split
from services.classifier.embedder import Embedder
from services.classifier.fitting import CASCADE_OFF, EMBEDDING_TOKENS, GUARD_OFF, fit_model
from services.classifier.handler import shipped_router
from services.classifier.tier_model import DEFAULT_ARTIFACT, ArtifactError, TierModel, checksum_path
from services.classifier.tier_router import TierRouter
from services.classifier.train import subset

SMALL_SUBSET = 24


def _train(path: Path, seed: int) -> str:
    examples = subset(load_split("train"), SMALL_SUBSET, seed)
    model = fit_model(
        examples,
        seed=seed,
        embedder=Embedder(max_tokens=EMBEDDING_TOKENS),
        progress=lambda *_: None,
        training={"splits": ["train"]},
    )
    return model.write(path)


def test_training_is_deterministic_and_the_artifact_loads(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "router.json", tmp_path / "b" / "router.json"
    assert _train(first, seed=7) == _train(second, seed=7)
    assert first.read_bytes() == second.read_bytes()
    model = TierModel.load(first)
    assert re.fullmatch(r"tier-router-2-[0-9a-f]{8}", model.version)
    assert model.tiers.classes == TIERS
    assert model.training["examples"] == SMALL_SUBSET


def test_the_shipped_artifact_matches_its_checksum_and_decides() -> None:
    digest = hashlib.sha256(DEFAULT_ARTIFACT.read_bytes()).hexdigest()
    assert checksum_path(DEFAULT_ARTIFACT).read_text().split()[0] == digest
    model = TierModel.load(DEFAULT_ARTIFACT)
    assert model.training["splits"] == ["train", "dev"]  # never the test split
    assert shipped_router().version == model.version


def _copy(tmp_path: Path) -> Path:
    path = tmp_path / "router.json"
    path.write_bytes(DEFAULT_ARTIFACT.read_bytes())
    checksum_path(path).write_text(
        checksum_path(DEFAULT_ARTIFACT).read_text().replace(DEFAULT_ARTIFACT.name, path.name)
    )
    return path


def test_a_corrupt_artifact_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = _copy(tmp_path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=re.escape(str(path)) + ".*checksum mismatch"):
        TierModel.load(path)


def test_a_missing_artifact_or_checksum_is_refused_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(ArtifactError, match=re.escape(str(missing))):
        TierRouter.load(missing)
    path = _copy(tmp_path)
    checksum_path(path).unlink()
    with pytest.raises(ArtifactError, match=re.escape(str(path)) + ".*checksum file"):
        TierModel.load(path)


def test_a_well_checksummed_but_malformed_artifact_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "router.json"
    path.write_bytes(b'{"format": "tier-router", "format_version": 1}')
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    checksum_path(path).write_text(f"{digest}  router.json\n")
    with pytest.raises(ArtifactError, match="malformed"):
        TierModel.load(path)


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("shorten this to one line: Join us Saturday at 10am at Lincoln Park for our canvass "
         "kickoff, coffee and donuts provided", "simple"),
        ("What does a county clerk do on election night?", "standard"),
        ("We have $400k left and six weeks. Lay out how to split it between TV, digital and "
         "field across our three media markets, with the trade-offs of each option.", "complex"),
        ("¿Qué dicen las encuestas más recientes sobre la carrera al Senado en Texas?", "live"),
    ],
)
def test_decisions_name_the_tier_and_its_probability(text: str, tier: str) -> None:
    decision = shipped_router().decide(text)
    assert decision.tier == tier
    assert set(decision.probabilities) == set(TIERS)
    assert sum(decision.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert decision.reason.startswith(f"{tier} tier")
    assert f"p={decision.probabilities[tier]:.2f}" in decision.reason
    assert decision.deep is False or tier == "live"


def _rows(*rows: tuple[float, float, float, float]) -> np.ndarray:
    return np.asarray(rows, dtype=np.float64)


def test_the_guard_keeps_a_likely_complex_question_off_the_local_model() -> None:
    # A routine-looking question that is fairly likely complex; and a plainly routine one.
    probabilities = _rows((0.55, 0.05, 0.35, 0.05), (0.90, 0.05, 0.03, 0.02))
    unguarded, _ = cascade_predictions(probabilities, probabilities, CASCADE_OFF, GUARD_OFF)
    guarded, _ = cascade_predictions(probabilities, probabilities, CASCADE_OFF, 0.5)
    assert [TIERS[t] for t in unguarded] == ["simple", "simple"]
    assert [TIERS[t] for t in guarded] == ["complex", "simple"]


def test_the_cascade_embeds_only_what_the_fast_heads_are_unsure_of() -> None:
    fast = _rows((0.95, 0.03, 0.01, 0.01), (0.40, 0.35, 0.20, 0.05))
    full = _rows((0.90, 0.05, 0.03, 0.02), (0.10, 0.80, 0.05, 0.05))
    tiers, embedded = cascade_predictions(fast, full, 0.9, GUARD_OFF)
    assert embedded.tolist() == [False, True]
    assert [TIERS[t] for t in tiers] == ["simple", "standard"]


def test_thresholds_meet_the_under_routing_goal_and_keep_accuracy() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, len(TIERS), size=400)
    full = np.full((400, len(TIERS)), 0.05)
    full[np.arange(400), labels] = 0.85
    confused = np.flatnonzero(labels == TIERS.index("complex"))[:20]
    full[confused] = (0.6, 0.05, 0.3, 0.05)  # complex questions that look routine
    fast = full * 0.9 + 0.025  # a little less sure, same order
    chosen = choose_thresholds(fast, full, labels)
    tiers, _ = cascade_predictions(
        fast, full, chosen["fast_threshold"], chosen["local_guard_ratio"]
    )
    complex_rows = labels == TIERS.index("complex")
    assert np.mean(tiers[complex_rows] == TIERS.index("simple")) <= LOCAL_UNDER_ROUTING_GOAL
    assert chosen["cv_complex_to_local_no_guard"] > LOCAL_UNDER_ROUTING_GOAL
    assert chosen["cv_accuracy"] >= chosen["cv_accuracy_full"] - FAST_ACCURACY_LOSS
    assert chosen["cv_share_embedded"] < 1.0


def test_the_shipped_router_records_whether_it_read_the_embedding() -> None:
    router = shipped_router()
    sure = router.decide("Fix the spelling in this sentence: 'We apreciate you're support.'")
    assert sure.embedded is False and "with the sentence embedding" not in sure.reason
    # Questions it never saw: some are close calls that need the embedding.
    texts = [e.query for e in load_split("holdout")]
    assert any(router.decide(text).embedded for text in texts)

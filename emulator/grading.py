"""Simulated right and wrong answers, for measuring the confidence score (`make eval-confidence`).

The emulator's answers are placeholders, so nothing in their text can be graded. To
measure calibration, a grader tells the emulator each model's accuracy per tier and the
tier of each question it will ask (`PUT /_control/grading`). From then on every answer
of a graded model is drawn right or wrong with that probability (deterministically from
the seed, model and question), and the outcome is recorded here, keyed by model and
question, where only the grader reads it (`GET /_control/grades`).

What the scorer can see is never the outcome itself: the answer text, token counts,
citations and finish reason are exactly what they are without grading. One signal is
made to correlate with correctness, the way it does for real models: Gemini's
`avgLogprobs` is drawn from a normal distribution whose mean is higher for a right
answer (`RIGHT_MEAN`) than for a wrong one (`WRONG_MEAN`), shifted by the model's
profile certainty, with the same spread (`SPREAD`) for both, so the two overlap and
the score can only tell them apart statistically. Perplexity reports no log
probabilities, so its graded answers carry no extra signal (only the scorer's history).
"""

from __future__ import annotations

import hashlib
import random
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas.parts import TIERS

DEFAULT_TIER = "standard"
RIGHT_MEAN = -0.12
WRONG_MEAN = -0.42
SPREAD = 0.15
MIN_GRADED_LOGPROB = -2.0
MAX_GRADED_LOGPROB = -0.01


def question_of(prompt: str) -> str:
    """The question a prompt asks (before any context), whitespace collapsed: the key the
    grader and the emulator share."""
    return " ".join(prompt.split("\n\nContext:", 1)[0].split())


def grade_key(model: str, question: str) -> str:
    return hashlib.sha256(f"{model}\x00{question_of(question)}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Grade:
    """The outcome of one answer, for the grader's eyes only."""

    key: str
    model: str
    tier: str
    question: str
    correct: bool
    accuracy: float
    avg_logprob: float | None


@dataclass
class GradingBoard:
    """Accuracy per model and tier, question tiers, and the recorded outcomes."""

    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    tiers: dict[str, str] = field(default_factory=dict)
    default_tier: str = DEFAULT_TIER
    seed: int = 0
    grades: dict[str, Grade] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def configure(self, body: dict[str, Any]) -> None:
        """Replace the accuracy table (and add question tiers); raises ValueError."""
        accuracy = body.get("accuracy")
        if not isinstance(accuracy, dict) or not accuracy:
            raise ValueError("accuracy: an object {model: {tier: probability}} is required")
        table: dict[str, dict[str, float]] = {}
        for model, per_tier in accuracy.items():
            if not isinstance(per_tier, dict):
                raise ValueError(f"accuracy.{model}: an object {{tier: probability}} is required")
            for tier, p in per_tier.items():
                if tier not in TIERS or not isinstance(p, int | float) or not 0 <= p <= 1:
                    raise ValueError(f"accuracy.{model}.{tier}: a tier of {TIERS} and 0..1")
            table[model] = {t: float(p) for t, p in per_tier.items()}
        tiers = body.get("tiers") or {}
        if not isinstance(tiers, dict) or any(t not in TIERS for t in tiers.values()):
            raise ValueError(f"tiers: an object {{question: tier}} with tiers from {TIERS}")
        default_tier = body.get("default_tier", DEFAULT_TIER)
        if default_tier not in TIERS:
            raise ValueError(f"default_tier: one of {TIERS}")
        seed = body.get("seed", 0)
        if not isinstance(seed, int):
            raise ValueError("seed: an integer")
        with self._lock:
            self.accuracy = table
            self.tiers.update({question_of(q): t for q, t in tiers.items()})
            self.default_tier = default_tier
            self.seed = seed

    def reset(self) -> None:
        with self._lock:
            self.accuracy, self.tiers, self.grades = {}, {}, {}
            self.default_tier, self.seed = DEFAULT_TIER, 0

    def grade(self, model: str, prompt: str, certainty: float, logprobs: bool) -> Grade | None:
        """Draw and record the outcome of `model` answering `prompt`; None when the model
        is not graded. `logprobs`: the API reports avgLogprobs (drawn by the outcome)."""
        with self._lock:
            per_tier = self.accuracy.get(model)
            if per_tier is None:
                return None
            question = question_of(prompt)
            tier = self.tiers.get(question, self.default_tier)
            p = per_tier.get(tier, per_tier.get(DEFAULT_TIER, 0.5))
            key = grade_key(model, question)
            digest = hashlib.sha256(f"{self.seed}\x00{key}".encode()).hexdigest()
            rng = random.Random(int(digest[:16], 16))
            correct = rng.random() < p
            logprob = None
            if logprobs:
                mean = (RIGHT_MEAN if correct else WRONG_MEAN) + certainty
                drawn = rng.gauss(mean, SPREAD)
                logprob = round(min(MAX_GRADED_LOGPROB, max(MIN_GRADED_LOGPROB, drawn)), 4)
            grade = Grade(key, model, tier, question, correct, p, logprob)
            self.grades[key] = grade
            return grade

    def lookup(self, model: str | None, question: str | None) -> list[dict[str, Any]]:
        with self._lock:
            if model is not None and question is not None:
                found = self.grades.get(grade_key(model, question))
                return [asdict(found)] if found else []
            return [asdict(g) for g in self.grades.values() if model is None or g.model == model]

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "accuracy": self.accuracy,
                "questions": len(self.tiers),
                "default_tier": self.default_tier,
                "seed": self.seed,
                "graded": len(self.grades),
            }

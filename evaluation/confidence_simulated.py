"""The simulated set: graded answers from the provider emulator, scored by the real scorer code.

The questions, and each model's accuracy the emulator is told, are
evaluation/simulated_questions.py.

What runs (in this process, not through Kafka: 2,000+ answers through the whole stack
would measure the broker, not the score): the emulator app on a local port, told each
model's accuracy per tier (`PUT /_control/grading`, emulator/grading.py); the real
provider clients (google-genai and openai SDKs) calling it through `core.attempt`; the
real confidence code (`core.confidence.score_answer`) on each answer; the real
calibration fit (`core.calibration`) and the scorer's escalation policy
(`services.scorer.escalation`). The grader reads each outcome from the emulator's
control API; the scorer never sees it.

How the signals relate to correctness, plainly: the emulator draws Gemini's avgLogprobs
from a distribution whose mean is higher for right answers (emulator/grading.py).
That is the one signal made informative on purpose, as real models' log probabilities
are. Historical accuracy comes from graded outcomes of the other fold (as the feedback
topic would give them), never from the answer's own grade. Perplexity carries no
certainty signal. The local model is not emulated, so it is not in this set; the
routes are the classifier's own, restricted to the hosted providers (a caller option).

Cross-fitting: the answers are split in two folds at random; each fold is scored with
history from, and measured under a calibration fitted on, the other fold; the figures
pool both folds, so every answer is measured by a calibration that never saw it.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import httpx

from core.attempt import attempt_model
from core.calibration import Graded, fit_calibration
from core.confidence import History, calibrated, score_answer
from evaluation.simulated_questions import ACCURACY, SEED, Item
from providers.base import Provider
from providers.catalogue import DEFAULT_CATALOGUE, Catalogue
from schemas.base import ProviderName
from schemas.calibration import CalibrationPublished
from schemas.completion import CompletionProduced
from schemas.parts import Answer, AttemptSummary, Confidence, RouteStep
from services.scorer.escalation import EscalationPolicy

CONCURRENCY = 32
CONTROL_TIMEOUT_S = 30.0
MIN_GRADED_TO_FIT = 50


@dataclass(frozen=True)
class Answered:
    """One graded answer with its scorer signals (raw score before calibration)."""

    item: Item
    answer: Answer
    attempt: AttemptSummary
    correct: bool
    raw_score: float = 0.0
    fold: int = 0


class Emulator:
    """The grader's side of the emulator's control API."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=CONTROL_TIMEOUT_S)

    def configure(self, questions: Sequence[Item], seed: int = SEED) -> None:
        self._client.post("/_control/reset").raise_for_status()
        body = {
            "accuracy": ACCURACY,
            "tiers": {item.query.query: item.tier for item in questions},
            "seed": seed,
        }
        self._client.put("/_control/grading", json=body).raise_for_status()

    def grade(self, model: str, question: str) -> bool:
        found = self._client.get("/_control/grades", params={"model": model, "question": question})
        found.raise_for_status()
        [grade] = found.json()["grades"]
        return bool(grade["correct"])

    def close(self) -> None:
        self._client.close()


async def ask(
    providers: Mapping[ProviderName, Provider], catalogue: Catalogue, item: Item, step: RouteStep
) -> tuple[Answer, AttemptSummary]:
    """One call through the real client and `core.attempt`; raises RuntimeError on failure
    (the emulator has no faults injected here, so a failure is a broken set-up)."""
    spec = catalogue.get(step.provider, step.model)
    result = await attempt_model(
        provider=providers[step.provider], spec=spec, query=item.query, timeout_s=spec.timeout_s
    )
    if result.answer is None:
        raise RuntimeError(f"{step.provider}/{step.model} failed: {result.summary.error_message}")
    return result.answer, result.summary


async def answer_all(
    providers: Mapping[ProviderName, Provider],
    catalogue: Catalogue,
    questions: Sequence[Item],
    pick: Callable[[Item], RouteStep],
    progress: Callable[[int], None] | None = None,
) -> list[tuple[Answer, AttemptSummary]]:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(item: Item) -> tuple[Answer, AttemptSummary]:
        async with gate:
            result = await ask(providers, catalogue, item, pick(item))
        if progress is not None:
            progress(1)
        return result

    return list(await asyncio.gather(*(one(item) for item in questions)))


def history_from(answers: Sequence[Answered]) -> dict[tuple[str, str, str], History]:
    """Graded counts per (provider, model, analysis type), as the feedback tally keeps them."""
    totals: Counter[tuple[str, str, str]] = Counter()
    right: Counter[tuple[str, str, str]] = Counter()
    for a in answers:
        key = (a.answer.provider, a.answer.model, a.item.classification.analysis_type)
        totals[key] += 1
        right[key] += a.correct
    return {k: History(correct=right[k], total=totals[k]) for k in totals}


def confidence_of(
    a: Answered,
    histories: dict[tuple[str, str, str], History],
    catalogue: Catalogue,
    calibration: CalibrationPublished | None = None,
) -> Confidence:
    """The scorer's own scoring function on this answer."""
    key = (a.answer.provider, a.answer.model, a.item.classification.analysis_type)
    kwargs = {} if calibration is None else {"calibration": calibration}
    return score_answer(
        answer=a.answer,
        spec=catalogue.get(a.answer.provider, a.answer.model),
        route=a.item.route,
        needs_live_data=a.item.classification.needs_live_data,
        agreement=None,
        history=histories.get(key, History()),
        **kwargs,  # type: ignore[arg-type]
    )


def cross_fit(
    answered: Sequence[Answered], catalogue: Catalogue, seed: int = SEED
) -> tuple[list[Answered], list[CalibrationPublished]]:
    """Two random folds; each scored with the other's history and calibrated by a fit on the
    other's (raw score, outcome). Returns the answers with raw scores and fold, and the
    calibration fitted on each fold (index = the fold it was fitted on)."""
    rng = random.Random(seed)
    folds = [rng.randrange(2) for _ in answered]
    split = [[a for a, f in zip(answered, folds, strict=True) if f == k] for k in (0, 1)]
    histories = [history_from(split[0]), history_from(split[1])]
    scored: list[Answered] = []
    for a, fold in zip(answered, folds, strict=True):
        raw = confidence_of(a, histories[1 - fold], catalogue).raw_score
        assert raw is not None
        scored.append(replace(a, raw_score=raw, fold=fold))
    calibrations = [
        fit_calibration(
            [Graded(str(a.item.index), a.raw_score, a.correct) for a in scored if a.fold == k],
            min_graded=MIN_GRADED_TO_FIT,
        )
        for k in (0, 1)
    ]
    return scored, calibrations


def calibrated_scores(
    scored: Sequence[Answered], calibrations: Sequence[CalibrationPublished]
) -> list[float]:
    """Each answer's score under the calibration fitted on the other fold."""
    return [calibrated(a.raw_score, calibrations[1 - a.fold]) for a in scored]


@dataclass(frozen=True)
class EscalationOutcome:
    threshold: float
    escalated: int
    accuracy: float
    cost_usd: float


def escalation_outcomes(
    scored: Sequence[Answered],
    probabilities: Sequence[float],
    next_answers: dict[int, tuple[Answer, AttemptSummary, bool]],
    policy: EscalationPolicy,
    thresholds: Sequence[float],
) -> list[EscalationOutcome]:
    """Accuracy and cost of the set when unsure answers go to the next model (the scorer's
    policy decides: escalating models, remaining steps, threshold)."""
    outcomes = []
    for threshold in thresholds:
        trial = replace(policy, threshold=threshold, campaign_thresholds={})
        right, cost, escalated = 0, 0.0, 0
        for a, p in zip(scored, probabilities, strict=True):
            cost += a.answer.cost_usd
            completion = completion_for(a)
            remaining = trial.remaining_steps(completion)
            confidence = Confidence(
                score=round(p, 4), components={}, raw_score=a.raw_score, calibration_version="x"
            )
            if threshold > 0 and trial.reason(completion, confidence, remaining) is not None:
                nxt, _attempt, nxt_right = next_answers[a.item.index]
                cost += nxt.cost_usd
                right += nxt_right
                escalated += 1
            else:
                right += a.correct
        outcomes.append(EscalationOutcome(threshold, escalated, right / len(scored), cost))
    return outcomes


def completion_for(a: Answered) -> CompletionProduced:
    return CompletionProduced(
        query=a.item.query,
        classification=a.item.classification,
        route=a.item.route,
        status="succeeded",
        answer=a.answer,
        attempts=[a.attempt],
    )


def default_catalogue() -> Catalogue:
    return DEFAULT_CATALOGUE

"""Routing figures on a labelled split: accuracy, confusion, under-routing, decision time.

`python -m services.classifier.evaluate --split dev` scores the shipped router offline
(no broker, no providers). The test split is for the final figure only: computing it
is allowed, choosing or tuning anything by it is not (see docs/routing.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from schemas.parts import TIERS
from services.classifier.dataset import DATA_DIR, SPLITS, Example, load_split
from services.classifier.tier_model import DEFAULT_ARTIFACT
from services.classifier.tier_router import TierRouter

WARM_UP_QUERIES = 5
"""Decisions run before timing starts: the first ONNX runs allocate their buffers."""


@dataclass(frozen=True)
class RoutingScore:
    """How one router did on one split."""

    name: str
    examples: int
    accuracy: float
    per_tier: dict[str, float]
    confusion: list[list[int]]
    """Rows: true tier; columns: predicted tier; both in TIERS order."""
    complex_to_simple: float
    """Share of complex questions sent to the local model (under-routing)."""
    decision_ms_p50: float
    decision_ms_p99: float
    """Wall time of one decision (features + model), as a caller waits for it."""
    cpu_ms_p50: float
    cpu_ms_p99: float
    """CPU time of one decision: what it costs on an idle machine, whatever else runs."""
    deep_accuracy: float | None = None
    """On live questions: Sonar Pro chosen exactly when the label says deep."""


def score(
    name: str,
    examples: Sequence[Example],
    predicted: Sequence[str],
    timings_ms: Sequence[tuple[float, float]],
    deep: Sequence[bool] | None = None,
) -> RoutingScore:
    """The figures for `predicted` tiers against the labels of `examples`."""
    truth = [e.tier for e in examples]
    confusion = [[0] * len(TIERS) for _ in TIERS]
    for true, guess in zip(truth, predicted, strict=True):
        confusion[TIERS.index(true)][TIERS.index(guess)] += 1
    per_tier: dict[str, float] = {
        tier: _share(confusion[i][i], sum(confusion[i])) for i, tier in enumerate(TIERS)
    }
    complex_row = confusion[TIERS.index("complex")]
    live = [i for i, e in enumerate(examples) if e.tier == "live"]
    deep_accuracy = None
    if deep is not None and live:
        deep_accuracy = _share(sum(deep[i] == examples[i].deep for i in live), len(live))
    times = np.asarray(timings_ms or [(0.0, 0.0)])
    return RoutingScore(
        name=name,
        examples=len(examples),
        accuracy=_share(sum(t == p for t, p in zip(truth, predicted, strict=True)), len(truth)),
        per_tier=per_tier,
        confusion=confusion,
        complex_to_simple=_share(complex_row[TIERS.index("simple")], sum(complex_row)),
        decision_ms_p50=round(float(np.percentile(times[:, 0], 50)), 3),
        decision_ms_p99=round(float(np.percentile(times[:, 0], 99)), 3),
        cpu_ms_p50=round(float(np.percentile(times[:, 1], 50)), 3),
        cpu_ms_p99=round(float(np.percentile(times[:, 1], 99)), 3),
        deep_accuracy=deep_accuracy,
    )


def timed(
    decide: Callable[[str], str], texts: Sequence[str]
) -> tuple[list[str], list[tuple[float, float]]]:
    """Each text's decision and its (wall, CPU) time in milliseconds, after a warm-up."""
    for text in texts[:WARM_UP_QUERIES]:
        decide(text)
    tiers, times = [], []
    for text in texts:
        started, cpu = time.perf_counter(), time.thread_time()
        tiers.append(decide(text))
        times.append(
            ((time.perf_counter() - started) * 1000, (time.thread_time() - cpu) * 1000)
        )
    return tiers, times


def evaluate_router(router: TierRouter, examples: Sequence[Example]) -> RoutingScore:
    """Score the learned router, deep flag included."""
    decisions = {}

    def decide(text: str) -> str:
        decision = router.decide(text)
        decisions[text] = decision
        return decision.tier

    tiers, times = timed(decide, [e.query for e in examples])
    deep = [decisions[e.query].deep for e in examples]
    return score(router.version, examples, tiers, times, deep)


def render(scores: Sequence[RoutingScore]) -> str:
    """A Markdown table of the scores, then each confusion matrix."""
    lines = [
        "| router | accuracy | " + " | ".join(TIERS) + " | complex->simple "
        "| wall p50 / p99 ms | CPU p50 / p99 ms |",
        "|---|---|" + "---|" * len(TIERS) + "---|---|---|",
    ]
    for s in scores:
        per = " | ".join(f"{s.per_tier[t]:.3f}" for t in TIERS)
        lines.append(
            f"| {s.name} | {s.accuracy:.3f} | {per} | {s.complex_to_simple:.3f} "
            f"| {s.decision_ms_p50:.2f} / {s.decision_ms_p99:.2f} "
            f"| {s.cpu_ms_p50:.2f} / {s.cpu_ms_p99:.2f} |"
        )
    for s in scores:
        lines += ["", f"{s.name}: confusion (rows true, columns predicted)", _matrix(s)]
        if s.deep_accuracy is not None:
            lines.append(f"live questions with the right Sonar / Sonar Pro: {s.deep_accuracy:.3f}")
    return "\n".join(lines)


def _matrix(s: RoutingScore) -> str:
    width = max(len(t) for t in TIERS) + 2
    head = " " * width + "".join(t.rjust(width) for t in TIERS)
    rows = [t.ljust(width) + "".join(str(n).rjust(width) for n in row)
            for t, row in zip(TIERS, s.confusion, strict=True)]
    return "\n".join([head, *rows])


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.classifier.evaluate",
        description="Score the router artifact on a labelled split, offline.",
    )
    parser.add_argument("--split", choices=SPLITS, default="dev")
    parser.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    args = parser.parse_args(argv)
    router = TierRouter.load(args.artifact)
    result = evaluate_router(router, load_split(args.split, args.data_dir))
    if args.format == "json":
        print(json.dumps({"split": args.split, **asdict(result)}, indent=2))
    else:
        print(f"split {args.split}, artifact {args.artifact}\n")
        print(render([result]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

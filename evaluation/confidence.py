"""`make eval-confidence`: is the confidence score a probability of being right?

    python -m evaluation.confidence [--n 2400] [--format table|json] [--skip-real]

For two sets of graded answers, labelled plainly, it prints expected calibration error
(15 equal-width bins), AUROC (right vs wrong), Brier score and a reliability table, each
with a bootstrap 95 % interval, before calibration (the raw weighted mean) and after:

- simulated: the provider emulator, told each model's accuracy per tier, answers
  2,000+ questions through the real provider clients; the real scorer code scores them
  (evaluation/confidence_simulated.py says exactly which signal correlates with
  correctness and how). Cross-fitted: each half is calibrated by a fit on the other
  half. Target: ECE <= 0.05 after calibration. Also cost and accuracy with and
  without confidence-driven escalation (the scorer's own policy).
- real: the local model on checkable tasks, from `evaluation.confidence_real`
  (`graded_pairs()`, another part of the work); "not available" when it is not there.
  Cross-fitted the same way. Target: AUROC >= 0.75.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import random
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from core.calibration import Graded, fit_calibration
from core.calibration_metrics import (
    ECE_BINS,
    Estimate,
    ReliabilityRow,
    auroc,
    bootstrap,
    brier,
    ece,
    reliability,
)
from core.confidence import calibrated
from evaluation.confidence_simulated import (
    Answered,
    Emulator,
    answer_all,
    calibrated_scores,
    completion_for,
    cross_fit,
    default_catalogue,
    escalation_outcomes,
)
from evaluation.simulated_questions import items

DEFAULT_N = 2400
ECE_TARGET = 0.05
AUROC_TARGET = 0.75
ESCALATION_THRESHOLDS = (0.0, 0.5, 0.6, 0.7, 0.8)
"""0 is "no escalation"; 0.5 is the scorer's default threshold."""
REAL_MIN_TASKS = 200
HOST = "127.0.0.1"


@dataclass
class SetReport:
    label: str
    n: int
    n_correct: int
    fitting: str
    before: dict[str, Estimate] = field(default_factory=dict)
    after: dict[str, Estimate] = field(default_factory=dict)
    reliability_before: list[ReliabilityRow] = field(default_factory=list)
    reliability_after: list[ReliabilityRow] = field(default_factory=list)
    calibrations: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def measure(
    raw: Sequence[float], after: Sequence[float], correct: Sequence[bool]
) -> tuple[dict[str, Estimate], dict[str, Estimate]]:
    metrics = {"ECE": ece, "AUROC": auroc, "Brier": brier}
    before = {name: bootstrap(fn, raw, correct) for name, fn in metrics.items()}
    calibrated_ = {name: bootstrap(fn, after, correct) for name, fn in metrics.items()}
    return before, calibrated_


def cross_fitted_pairs(
    pairs: Sequence[tuple[float, bool]], seed: int
) -> tuple[list[float], list[str]]:
    """Calibrated scores for (raw, right) pairs, each half by a fit on the other half."""
    rng = random.Random(seed)
    folds = [rng.randrange(2) for _ in pairs]
    fits = [
        fit_calibration(
            [Graded(str(i), r, c) for i, ((r, c), f) in enumerate(zip(pairs, folds, strict=True))
             if f == k],
            min_graded=2,
        )
        for k in (0, 1)
    ]  # fmt: skip
    after = [calibrated(r, fits[1 - f]) for (r, _c), f in zip(pairs, folds, strict=True)]
    return after, [f"{c.version} ({c.reason})" for c in fits]


def run_simulated(n: int, progress: bool) -> SetReport:
    """The emulator in a thread of this process, the real clients, the real scoring code."""
    from emulator import create_app
    from emulator.server import make_server
    from providers.registry import build_providers, close_providers
    from providers.settings import ProviderSettings
    from services.scorer.settings import ScorerSettings

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = make_server(create_app(latency_scale=0.0), HOST, 0)
    thread = threading.Thread(target=server.serve_forever, name="emulator", daemon=True)
    thread.start()
    base_url = f"http://{HOST}:{server.server_port}"
    control = Emulator(base_url)
    catalogue = default_catalogue()
    questions = items(n)
    control.configure(questions)
    settings = ProviderSettings(emulator_url=base_url, gemini_api_key=None, perplexity_api_key=None)
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        if progress and (done[0] % 100 == 0 or done[0] == n):
            print(f"\r[simulated] {done[0]}/{n} answered", end="", file=sys.stderr, flush=True)

    async def answers() -> tuple[list[Answered], dict[int, Any]]:
        providers = build_providers(settings)
        try:
            first = await answer_all(providers, catalogue, questions, lambda i: i.route[0], tick)
            graded = [
                Answered(item, answer, attempt, control.grade(answer.model, item.query.query))
                for item, (answer, attempt) in zip(questions, first, strict=True)
            ]
            policy = ScorerSettings().escalation_policy()
            escalating = [a for a in graded if policy.remaining_steps(completion_for(a))]
            second = await answer_all(
                providers,
                catalogue,
                [a.item for a in escalating],
                lambda i: i.route[1],
            )
            nexts = {
                a.item.index: (ans, att, control.grade(ans.model, a.item.query.query))
                for a, (ans, att) in zip(escalating, second, strict=True)
            }
            return graded, nexts
        finally:
            await close_providers(providers)

    try:
        graded, nexts = asyncio.run(answers())
    finally:
        control.close()
        server.shutdown()
        server.server_close()
    if progress:
        print(file=sys.stderr)

    scored, fits = cross_fit(graded, catalogue)
    raw = [a.raw_score for a in scored]
    after = calibrated_scores(scored, fits)
    correct = [a.correct for a in scored]
    before_m, after_m = measure(raw, after, correct)
    policy = ScorerSettings().escalation_policy()
    outcomes = escalation_outcomes(scored, after, nexts, policy, ESCALATION_THRESHOLDS)
    per_model: dict[str, list[bool]] = {}
    for a in scored:
        per_model.setdefault(a.answer.model, []).append(a.correct)
    return SetReport(
        label="simulated (provider emulator; accuracy per model and tier assumed, see "
        "evaluation/confidence_simulated.py)",
        n=len(scored),
        n_correct=sum(correct),
        fitting="cross-fitted: two random halves, each calibrated by a fit on the other",
        before=before_m,
        after=after_m,
        reliability_before=reliability(raw, correct),
        reliability_after=reliability(after, correct),
        calibrations=[f"{c.version} ({c.reason})" for c in fits],
        extra={
            "answers per model (share right)": {
                m: f"{len(v)} ({sum(v) / len(v):.2f})" for m, v in sorted(per_model.items())
            },
            "escalation": [asdict(o) for o in outcomes],
            "escalating models": sorted(f"{p}/{m}" for p, m in policy.models),
        },
    )


def run_real() -> SetReport | str:
    """The other engineer's graded local-model tasks, or why they are not available."""
    try:
        confidence_real = importlib.import_module("evaluation.confidence_real")
    except ImportError as err:
        return f"not available (evaluation/confidence_real.py cannot be imported: {err})"
    graded_pairs = getattr(confidence_real, "graded_pairs", None)
    if graded_pairs is None:
        return "not available (evaluation.confidence_real has no graded_pairs())"
    try:
        pairs = [(float(r), bool(c)) for r, c in graded_pairs()]
    except Exception as err:  # the local model server down, a task file missing, ...
        return f"not available (graded_pairs() failed: {type(err).__name__}: {err})"
    if len(pairs) < 2 or len({c for _r, c in pairs}) < 2:
        return f"not available ({len(pairs)} graded pairs, need right and wrong ones)"
    raw = [r for r, _c in pairs]
    correct = [c for _r, c in pairs]
    after, fits = cross_fitted_pairs(pairs, seed=1)
    before_m, after_m = measure(raw, after, correct)
    return SetReport(
        label="real (the local model on exactly checkable tasks, evaluation/confidence_real.py)",
        n=len(pairs),
        n_correct=sum(correct),
        fitting="cross-fitted: two random halves, each calibrated by a fit on the other",
        before=before_m,
        after=after_m,
        reliability_before=reliability(raw, correct),
        reliability_after=reliability(after, correct),
        calibrations=fits,
        extra={"tasks below the 200 asked for": len(pairs) < REAL_MIN_TASKS},
    )


def render(report: SetReport, target: str) -> None:
    print(f"\n== {report.label}")
    print(f"graded answers: {report.n} ({report.n_correct} right); {report.fitting}")
    for line in report.calibrations:
        print(f"  calibration: {line}")
    print(f"{'metric':8} {'before calibration':>26} {'after calibration':>26}")
    for name in report.before:
        print(f"{name:8} {report.before[name]!s:>26} {report.after[name]!s:>26}")
    print(f"target: {target} (95 % bootstrap intervals in brackets)")
    for title, rows in (("before", report.reliability_before), ("after", report.reliability_after)):
        print(f"reliability {title} calibration ({ECE_BINS} equal-width bins):")
        print(f"  {'bin':>11} {'n':>6} {'mean score':>11} {'share right':>12}")
        for r in rows:
            print(
                f"  {r.low:.2f}-{r.high:.2f} {r.n:>6} {r.mean_predicted:>11.3f} "
                f"{r.share_correct:>12.3f}"
            )
    for key, value in report.extra.items():
        if key == "escalation":
            print("escalation (the scorer's policy; threshold 0 = no escalation):")
            print(f"  {'threshold':>9} {'escalated':>9} {'accuracy':>9} {'cost USD':>10}")
            for o in value:
                print(
                    f"  {o['threshold']:>9.2f} {o['escalated']:>9} {o['accuracy']:>9.3f} "
                    f"{o['cost_usd']:>10.4f}"
                )
        else:
            print(f"{key}: {value}")


def _json(report: SetReport) -> dict[str, Any]:
    document = asdict(report)
    for side in ("before", "after"):
        document[side] = {k: asdict(v) for k, v in getattr(report, side).items()}
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.confidence",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="simulated answers (>= 2000)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--skip-real", action="store_true", help="only the simulated set")
    args = parser.parse_args(argv)
    simulated = run_simulated(args.n, progress=args.format == "table")
    real: SetReport | str = "not run (--skip-real)" if args.skip_real else run_real()
    if args.format == "json":
        document = {
            "simulated": _json(simulated),
            "real": real if isinstance(real, str) else _json(real),
            "targets": {"simulated ECE after": ECE_TARGET, "real AUROC": AUROC_TARGET},
        }
        print(json.dumps(document, indent=2, default=str))
        return 0
    render(simulated, f"ECE after calibration <= {ECE_TARGET}")
    if isinstance(real, str):
        print(f"\n== real set: {real}")
    else:
        render(real, f"AUROC >= {AUROC_TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m evaluation.confidence_real`: does the local model's certainty tell right from wrong?

    python -m evaluation.confidence_real [--limit N] [--url URL] [--builtin NAME]
                                         [--agreement-samples N] [--format table|json]

The real set of `make eval-confidence`: the tasks of data/confidence/real_tasks.jsonl
(spelling fixes, arithmetic, a date or a name taken from a short text; each with one
exactly checkable answer) are asked of the local model through the real server
(`python -m providers.local_server`, started on a free port unless `--url` names a
running one) and the production client (`providers.local.LocalProvider`, the project's
system prompt, a short token cap per kind: evaluation/graded_answers.py). Each answer
is graded by normalised comparison with the reference (`grade`,
evaluation/checkable_tasks.py), and carries the raw signals the scorer sees:
`avg_logprob` (mean log-probability of the generated tokens, docs/local_model.md) and
the raw score `core.confidence.score_answer` computes from it.

The summary gives accuracy and the AUROC of the model's certainty (exp of
`avg_logprob`) for right against wrong answers, with a bootstrap 95 % interval
(`core.calibration_metrics`). Progress goes to stderr, one line per
`PROGRESS_EVERY` tasks.

`--agreement-samples N` measures the other certainty signal the issue allowed:
agreement between the answer and N more samples of the same prompt at temperature
`SAMPLE_TEMPERATURE` (`core.agreement`, the cross-check's measure), fed to the
scorer as its `cross_validation` component with the weights unchanged. It reports the
AUROC with it and what it costs in model time per task. It stays out of production
until it earns its price (docs/confidence.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from core.calibration_metrics import Estimate, auroc, bootstrap
from evaluation.graded_answers import SAMPLE_TEMPERATURE, GradedAnswer, graded_local_answers
from providers.local_server import BUILTIN_MODELS, DEFAULT_BUILTIN

AUROC_TARGET = 0.75
MIN_TASKS_FOR_VERDICT = 200
"""A `--limit` run is a smoke test: its interval is too wide to judge the target."""


def graded_pairs(limit: int | None = None) -> list[tuple[float, bool]]:
    """(raw score, right) per answered task: the input `evaluation.confidence` calibrates."""
    return [
        (g.raw_score, g.correct) for g in graded_local_answers(limit) if g.raw_score is not None
    ]


@dataclass(frozen=True)
class Summary:
    """The figures the command prints."""

    n: int
    n_correct: int
    accuracy: float
    accuracy_by_kind: dict[str, float]
    with_logprob: int
    auroc_certainty: Estimate
    auroc_raw_score: Estimate
    auroc_by_kind: dict[str, float]
    seconds_per_task: float = 0.0
    auroc_agreement: Estimate | None = None
    """Self-agreement alone, and the raw score with it, when samples were taken."""
    auroc_raw_score_with_agreement: Estimate | None = None
    sample_seconds_per_task: float | None = None


def summarise(graded: Sequence[GradedAnswer]) -> Summary:
    """Accuracy, and AUROC (bootstrap 95 % interval) of certainty and raw score, right vs wrong.

    An answer without `avg_logprob` counts with certainty 0 (no signal is no confidence).
    """
    correct = [g.correct for g in graded]
    certainty = [g.certainty or 0.0 for g in graded]
    raw = [g.raw_score or 0.0 for g in graded]
    by_kind: dict[str, list[GradedAnswer]] = {}
    for g in graded:
        by_kind.setdefault(g.kind, []).append(g)
    sampled = [g for g in graded if g.agreement is not None]
    sampled_correct = [g.correct for g in sampled]
    return Summary(
        n=len(graded),
        n_correct=sum(correct),
        accuracy=sum(correct) / len(graded) if graded else float("nan"),
        accuracy_by_kind={k: sum(g.correct for g in v) / len(v) for k, v in by_kind.items()},
        with_logprob=sum(g.avg_logprob is not None for g in graded),
        auroc_certainty=bootstrap(auroc, certainty, correct),
        auroc_raw_score=bootstrap(auroc, raw, correct),
        auroc_by_kind={
            k: auroc([g.certainty or 0.0 for g in v], [g.correct for g in v])
            for k, v in by_kind.items()
        },
        seconds_per_task=sum(g.seconds for g in graded) / len(graded) if graded else 0.0,
        auroc_agreement=(
            bootstrap(auroc, [g.agreement or 0.0 for g in sampled], sampled_correct)
            if sampled
            else None
        ),
        auroc_raw_score_with_agreement=(
            bootstrap(auroc, [g.raw_score_with_agreement or 0.0 for g in sampled], sampled_correct)
            if sampled
            else None
        ),
        sample_seconds_per_task=(
            sum(g.sample_seconds for g in sampled) / len(sampled) if sampled else None
        ),
    )


def render(summary: Summary) -> str:
    """The summary for people."""
    if summary.n < MIN_TASKS_FOR_VERDICT:
        verdict = f"not judged on fewer than {MIN_TASKS_FOR_VERDICT} tasks"
    else:
        verdict = "met" if summary.auroc_certainty.value >= AUROC_TARGET else "NOT met"
    kinds = ", ".join(f"{k} {v:.0%}" for k, v in sorted(summary.accuracy_by_kind.items()))
    kind_auroc = ", ".join(f"{k} {v:.2f}" for k, v in sorted(summary.auroc_by_kind.items()))
    lines = [
        "real set: the local model on exactly checkable tasks (data/confidence/real_tasks.jsonl)",
        f"  answers           {summary.n} ({summary.with_logprob} with avg_logprob)",
        f"  accuracy          {summary.accuracy:.3f} ({summary.n_correct} right; {kinds})",
        f"  AUROC certainty   {summary.auroc_certainty}  (exp avg_logprob, right vs wrong; "
        f"bootstrap 95 % interval; target >= {AUROC_TARGET}: {verdict})",
        f"  AUROC raw score   {summary.auroc_raw_score}  (core.confidence, before calibration)",
        f"  AUROC by kind     {kind_auroc}",
        f"  model time        {summary.seconds_per_task:.2f} s per answer",
    ]  # fmt: skip
    agreement_auroc = summary.auroc_agreement
    with_agreement = summary.auroc_raw_score_with_agreement
    sample_s = summary.sample_seconds_per_task
    if agreement_auroc is not None and with_agreement is not None and sample_s is not None:
        ratio = sample_s / max(summary.seconds_per_task, 1e-9)
        lines += [
            f"  AUROC agreement   {agreement_auroc}  (answer against more samples at "
            f"temperature {SAMPLE_TEMPERATURE}; not used in production)",
            f"  AUROC raw + agr.  {with_agreement}  (the scorer's "
            f"weights, agreement as its cross_validation component)",
            f"  sampling cost     {sample_s:.2f} s more model time per answer ({ratio:.1f}x)",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.confidence_real",
        description="The local model's certainty against right and wrong answers on checkable "
        "tasks: accuracy and AUROC with a bootstrap 95%% interval.",
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N tasks")
    parser.add_argument("--url", default=None, help="a running local model server's /v1 URL")
    parser.add_argument(
        "--builtin",
        choices=sorted(BUILTIN_MODELS),
        default=DEFAULT_BUILTIN,
        help=f"model to serve when no --url (default {DEFAULT_BUILTIN})",
    )
    parser.add_argument(
        "--agreement-samples",
        type=int,
        default=0,
        metavar="N",
        help="also measure agreement with N more samples per task, and its cost (default 0)",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    if args.agreement_samples < 0:
        parser.error("--agreement-samples: must be 0 or more")
    graded = graded_local_answers(
        args.limit, url=args.url, builtin=args.builtin, agreement_samples=args.agreement_samples
    )
    summary = summarise(graded)
    if args.format == "json":
        print(json.dumps({"summary": asdict(summary), "answers": [asdict(g) for g in graded]}))
    else:
        print(render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

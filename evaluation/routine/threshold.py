"""`python -m evaluation.routine.threshold --answers FILE`: choose the capability
threshold on the dev split.

Reads the local model's saved answers to the dev split (`python -m evaluation.routine
--answers FILE`), and for each candidate threshold replays the policy on them: a kind
whose usable rate reaches the threshold is served by the local model, and each of its
answers passes the pre-release check (`core.answer_checks`) or is escalated to the
hosted model; other kinds go to the hosted model. Hosted answers are counted usable
(the emulator's cannot be judged). Prints, per threshold, the kinds served locally,
the local share, the usable rate of the local answers released, the usable final
answers and the escalations; and the check's own figures: the share of unusable answers
it catches and of usable ones it escalates. In-sample: the rates are the same answers'.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from core.answer_checks import check_answer
from core.routine_kind import routine_kind
from evaluation.routine.tasks import load_tasks

THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.routine.threshold")
    parser.add_argument("--answers", type=Path, required=True, help="saved dev answers (JSONL)")
    args = parser.parse_args(argv)
    tasks = {task.id: task for task in load_tasks("dev")}
    rows = [json.loads(line) for line in args.answers.open(encoding="utf-8")]
    by_kind: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for row in rows:
        task = tasks[row["task_id"]]
        flagged = bool(check_answer(task.query, row["text"], routine_kind(task.query)))
        by_kind[task.kind].append((bool(row["usable"]), flagged))
    pairs = [pair for kind in by_kind.values() for pair in kind]
    unusable = [flagged for usable, flagged in pairs if not usable]
    usable = [flagged for usable, flagged in pairs if usable]
    print(
        f"check: catches {sum(unusable)}/{len(unusable)} unusable answers, escalates "
        f"{sum(usable)}/{len(usable)} usable ones (dev, {len(pairs)} answers)\n"
    )
    print(
        "| threshold | kinds on the local model | local share | usable of what it serves "
        "| usable final | escalated |"
    )
    print("|---|---|---|---|---|---|")
    for threshold in THRESHOLDS:
        rates = {kind: sum(u for u, _ in got) / len(got) for kind, got in by_kind.items()}
        local = [kind for kind, rate in rates.items() if rate >= threshold]
        served = [pair for kind in local for pair in by_kind[kind]]
        kept = [usable for usable, flagged in served if not flagged]
        escalated = len(served) - len(kept)
        bad = sum(not usable for usable in kept)
        final = (len(pairs) - bad) / len(pairs)
        names = ", ".join(local) if len(local) <= 4 else f"{len(local)} kinds"
        served_usable = f"{sum(kept) / len(kept):.0%} ({sum(kept)}/{len(kept)})" if kept else "-"
        print(
            f"| {threshold:.0%} | {names or 'none'} | {len(kept) / len(pairs):.1%} | "
            f"{served_usable} | {final:.1%} | {escalated / len(pairs):.1%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Usable rates per model and task kind, and the one file they are kept in.

`data/routine/capability.json` is written by `python -m evaluation.routine` (`make
eval-routine`) from the dev split and read by the classifier at start-up: the local
model serves a routine kind only where its measured rate reaches the policy's threshold
(`core/capability_policy.py`). The file's models are in `schemas/capability.py`, so
production never imports `evaluation`.

Hosted models cannot be judged here (their answers come from the emulator, which
writes plausible filler), so each is listed with every task counted usable,
`judged: false` and a note saying so: the figures say "not measured", not "perfect".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from evaluation.routine.grading import Grade
from evaluation.routine.tasks import KINDS, Task
from schemas.capability import (
    FORMAT_VERSION,
    CapabilityFile,
    GgufIdentity,
    KindRate,
    ModelCapability,
)

__all__ = [
    "FORMAT_VERSION", "CapabilityFile", "GgufIdentity", "KindRate", "ModelCapability",
    "hosted_model", "measured_model", "rate_of", "rates_by_kind", "table",
]  # fmt: skip

HOSTED_NOTE = (
    "hosted answers come from the emulator and cannot be judged: every task is counted "
    "usable (not measured)"
)
LOCAL_NOTE = "measured: the configured local model answered every task with the production prompt"


def rate_of(grades: Sequence[Grade]) -> KindRate:
    """n, usable, rate (0 for no tasks) and the failed checks counted by name."""
    usable = sum(grade.usable for grade in grades)
    failed = Counter(name for grade in grades for name in grade.failed_names)
    return KindRate(
        n=len(grades),
        usable=usable,
        rate=round(usable / len(grades), 4) if grades else 0.0,
        failed_checks=dict(sorted(failed.items(), key=lambda item: (-item[1], item[0]))),
    )


def rates_by_kind(graded: Iterable[tuple[str, Grade]]) -> dict[str, KindRate]:
    """(kind, grade) pairs aggregated per kind, in the order of `tasks.KINDS`."""
    by_kind: dict[str, list[Grade]] = {}
    for kind, grade in graded:
        by_kind.setdefault(kind, []).append(grade)
    order = {kind: index for index, kind in enumerate(KINDS)}
    return {
        kind: rate_of(grades)
        for kind, grades in sorted(by_kind.items(), key=lambda item: order.get(item[0], 99))
    }


def measured_model(
    *,
    provider: str,
    model_id: str,
    graded: Sequence[tuple[Task, Grade]],
    gguf: GgufIdentity | None = None,
    prompt_format: str | None = None,
    seconds_per_task: float | None = None,
) -> ModelCapability:
    """A judged model's entry from its graded answers."""
    return ModelCapability(
        provider=provider, model_id=model_id, judged=True, note=LOCAL_NOTE, gguf=gguf,
        prompt_format=prompt_format, overall=rate_of([grade for _, grade in graded]),
        kinds=rates_by_kind((task.kind, grade) for task, grade in graded),
        seconds_per_task=seconds_per_task,
    )  # fmt: skip


def hosted_model(provider: str, model_id: str, tasks: Sequence[Task]) -> ModelCapability:
    """A hosted model's entry: every task counted usable, and said to be unjudged."""
    counted = [(task, Grade(usable=True)) for task in tasks]
    return ModelCapability(
        provider=provider, model_id=model_id, judged=False, note=HOSTED_NOTE,
        overall=rate_of([grade for _, grade in counted]),
        kinds=rates_by_kind((task.kind, grade) for task, grade in counted),
    )  # fmt: skip


def table(capability: CapabilityFile) -> str:
    """Usable rate per kind (rows) and model (columns); unjudged models marked '*'."""
    models = capability.models
    header = ["kind", "n", *(f"{m.model_id}{'' if m.judged else '*'}" for m in models)]
    kinds = list(dict.fromkeys(kind for m in models for kind in m.kinds))
    rows = [header]
    for kind in [*kinds, "overall"]:
        rates = [m.overall if kind == "overall" else m.kinds.get(kind) for m in models]
        n = next((rate.n for rate in rates if rate is not None), 0)
        rows.append([kind, str(n), *(_cell(rate) for rate in rates)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    if any(not m.judged for m in models):
        lines.append(f"* {HOSTED_NOTE}")
    return "\n".join(line.rstrip() for line in lines)


def _cell(rate: KindRate | None) -> str:
    return "-" if rate is None else f"{rate.rate:.0%} ({rate.usable}/{rate.n})"

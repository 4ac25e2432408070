"""The routine data are consistent: every task loads, has a check, and its own reference
answer passes its own checks; the splits are stratified and disjoint."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from evaluation.routine.grading import grade
from evaluation.routine.tasks import KINDS, SPLITS, Task, load_tasks

MIN_TASKS = 300
MIN_SPANISH_SHARE = 0.2


@pytest.fixture(scope="module")
def tasks() -> dict[str, list[Task]]:
    return {split: load_tasks(split) for split in SPLITS}


def test_every_reference_passes_its_own_checks(tasks: dict[str, list[Task]]) -> None:
    failures = []
    for task in [t for split in SPLITS for t in tasks[split]]:
        assert task.check.checks_named(), task.id
        if task.check.reference is not None:
            result = grade(task, task.check.reference)
            if not result.usable:
                failures.append(f"{task.id}: {[(f.check, f.reason) for f in result.failed]}")
    assert not failures, "\n".join(failures)


def test_size_kinds_and_languages(tasks: dict[str, list[Task]]) -> None:
    everything = tasks["dev"] + tasks["test"]
    assert len(everything) >= MIN_TASKS
    assert set(KINDS) == {task.kind for task in everything}
    spanish = sum(task.lang == "es" for task in everything)
    assert spanish / len(everything) >= MIN_SPANISH_SHARE


def test_splits_are_stratified_and_disjoint(tasks: dict[str, list[Task]]) -> None:
    dev = Counter((t.kind, t.lang) for t in tasks["dev"])
    test = Counter((t.kind, t.lang) for t in tasks["test"])
    assert dev.keys() == test.keys()
    assert all(abs(dev[key] - test[key]) <= 1 for key in dev)
    queries = [" ".join(t.query.lower().split()) for s in SPLITS for t in tasks[s]]
    assert len(queries) == len(set(queries))


def test_a_split_refuses_the_other_prefix(tmp_path: Path) -> None:
    line = (
        '{"id": "rt-001", "kind": "count", "lang": "en", "query": "How many?", '
        '"check": {"expected_number": 2}}\n'
    )
    (tmp_path / "dev.jsonl").write_text(line, encoding="utf-8")
    with pytest.raises(ValueError, match="dev.jsonl:1"):
        load_tasks("dev", tmp_path)

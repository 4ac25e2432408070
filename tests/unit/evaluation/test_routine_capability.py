"""Aggregation per kind and the capability file's shape (what the router will read)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from evaluation.routine.capability import (
    CapabilityFile,
    GgufIdentity,
    hosted_model,
    measured_model,
    rates_by_kind,
    table,
)
from evaluation.routine.grading import FailedCheck, Grade
from evaluation.routine.tasks import Task

GOOD = Grade(usable=True)
WRONG_LANGUAGE = Grade(usable=False, failed=(FailedCheck("language", "es asked"),))
WRONG_BOTH = Grade(
    usable=False, failed=(FailedCheck("language", "es asked"), FailedCheck("count", "1 item"))
)
CAPABILITY_PATH = Path(__file__).resolve().parents[3] / "data" / "routine" / "capability.json"


def make_task(number: int, kind: str) -> Task:
    return Task.model_validate({
        "id": f"rd-{number:03d}", "kind": kind, "lang": "en", "query": "Q",
        "check": {"max_words": 10},
    })  # fmt: skip


def test_rates_by_kind_counts_usable_and_failed_checks_in_kind_order() -> None:
    rates = rates_by_kind([
        ("translate", WRONG_LANGUAGE), ("rewrite", GOOD), ("translate", GOOD),
        ("translate", WRONG_BOTH),
    ])  # fmt: skip
    assert list(rates) == ["rewrite", "translate"]
    assert (rates["rewrite"].n, rates["rewrite"].usable, rates["rewrite"].rate) == (1, 1, 1.0)
    translate = rates["translate"]
    assert (translate.n, translate.usable, translate.rate) == (3, 1, 0.3333)
    assert translate.failed_checks == {"language": 2, "count": 1}


def test_file_shape_round_trips_and_marks_hosted_models_unjudged() -> None:
    tasks = [make_task(1, "rewrite"), make_task(2, "count")]
    local = measured_model(
        provider="local", model_id="local-gguf", graded=[(tasks[0], GOOD), (tasks[1], WRONG_BOTH)],
        gguf=GgufIdentity(file="m.gguf", bytes=10, sha256_prefix="ab" * 8), prompt_format="chat",
    )  # fmt: skip
    flash = hosted_model("gemini", "gemini-2.5-flash", tasks)
    capability = CapabilityFile(
        split="dev", measured_at=datetime(2026, 12, 6, tzinfo=UTC), tasks_file="dev.jsonl",
        tasks=2, tasks_sha256_prefix="0" * 16, models=[local, flash],
    )  # fmt: skip
    data = json.loads(capability.model_dump_json())
    assert data["format_version"] == 1 and data["split"] == "dev"
    first = data["models"][0]
    assert first["judged"] is True and first["gguf"]["file"] == "m.gguf"
    assert first["kinds"]["count"] == {"n": 1, "usable": 0, "rate": 0.0,
                                       "failed_checks": {"count": 1, "language": 1}}  # fmt: skip
    assert first["overall"]["rate"] == 0.5
    assert data["models"][1]["judged"] is False and data["models"][1]["overall"]["rate"] == 1.0
    assert "cannot be judged" in data["models"][1]["note"]
    assert CapabilityFile.model_validate(data) == capability
    printed = table(capability)
    assert "gemini-2.5-flash*" in printed and "0% (0/1)" in printed
    assert "cannot be judged" in printed


def test_the_committed_file_parses_and_names_its_model() -> None:
    capability = CapabilityFile.model_validate_json(CAPABILITY_PATH.read_text(encoding="utf-8"))
    assert capability.split == "dev" and capability.limit is None
    local = [m for m in capability.models if m.judged]
    assert len(local) == 1 and local[0].gguf is not None and local[0].gguf.sha256_prefix
    assert sum(rate.n for rate in local[0].kinds.values()) == capability.tasks

"""The real confidence set: the task file, the grading by normalised comparison, the summary."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from evaluation.checkable_tasks import KINDS, Task, grade, load_tasks, normalise
from evaluation.confidence_real import render, summarise
from evaluation.graded_answers import MAX_OUTPUT_TOKENS, GradedAnswer

MIN_TASKS = 200
MIN_PER_KIND = 40


def test_task_file_has_200_unique_tasks_of_every_kind():
    tasks = load_tasks()
    assert len(tasks) >= MIN_TASKS
    assert len({t.id for t in tasks}) == len(tasks)
    per_kind = Counter(t.kind for t in tasks)
    assert set(per_kind) == set(KINDS) == set(MAX_OUTPUT_TOKENS)
    assert min(per_kind.values()) >= MIN_PER_KIND, per_kind
    assert len({t.prompt for t in tasks}) == len(tasks), "no task asked twice"


def test_every_reference_grades_right_and_every_rejected_string_wrong():
    """The grader agrees with the file: a bad reference or reject list shows up here."""
    for task in load_tasks():
        assert grade(task, task.answer), task.id
        assert grade(task, f"Answer: {task.answer}"), task.id
        for bad in task.reject:
            assert not grade(task, bad), (task.id, bad)
            assert not grade(task, f"{task.answer} ({bad})"), (task.id, bad)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The rally starts at noon on Saturday.", "the rally starts at noon on saturday"),
        ("  “Their” ‘office’  is OPEN!  ", "their office is open"),
        ("It's 1,250 voters.", "its 1250 voters"),
        ("June 9, 2025", "june 9 2025"),
    ],
)
def test_normalise(text: str, expected: str):
    assert normalise(text) == expected


SPELLING = Task(
    id="sp-x", kind="spelling", prompt="Fix: Teh rally is on Satruday.",
    answer="The rally is on Saturday.", reject=("Teh", "Satruday"),
)  # fmt: skip
SUM = Task(id="ar-x", kind="arithmetic", prompt="What is 17 + 25?", answer="42")
BIG = Task(id="ar-y", kind="arithmetic", prompt="What is 950 + 300?", answer="1250")
DATE = Task(id="da-x", kind="date", prompt="...", answer="June 9, 2025", reject=("June 19, 2025",))
NAME = Task(id="na-x", kind="name", prompt="...", answer="Daniel Tanaka", reject=("Owen Carter",))


@pytest.mark.parametrize(
    ("task", "text", "right"),
    [
        (SPELLING, "The rally is on Saturday.", True),
        (SPELLING, '"the rally is on saturday"', True),
        (SPELLING, "Corrected sentence: The rally is on Saturday", True),
        (SPELLING, "The rally is on Satruday.", False),
        (SPELLING, "The rally is on Saturday. (Teh was wrong)", False),
        (SPELLING, "The rally is Saturday.", False),
        (SUM, "42", True),
        (SUM, "The answer is 42.", True),
        (SUM, "17 + 25 = 42", True),
        (SUM, "41", False),
        (SUM, "42 0", True),
        (SUM, "I cannot compute that.", False),
        (SUM, "", False),
        (BIG, "1,250", True),
        (BIG, "1250.", True),
        (BIG, "125", False),
        (DATE, "June 9, 2025", True),
        (DATE, "The ballot is certified on June 9 2025.", True),
        (DATE, "June 19, 2025", False),
        (DATE, "June 9", False),
        (DATE, "June 9, 2025 or June 19, 2025", False),
        (NAME, "Daniel Tanaka", True),
        (NAME, "Daniel Tanaka.", True),
        (NAME, "Daniel", False),
        (NAME, "Owen Carter", False),
        (NAME, "Owen Carter and Daniel Tanaka", False),
    ],
)
def test_grade(task: Task, text: str, right: bool):
    assert grade(task, text) is right


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_task_file_problems_name_the_line(tmp_path: Path):
    good = {"id": "a", "kind": "name", "prompt": "p", "answer": "x"}
    with pytest.raises(ValueError, match=r":2: repeated task id 'a'"):
        load_tasks(_write(tmp_path / "dup.jsonl", [good, good]))
    with pytest.raises(ValueError, match=r":1: bad task 'a' \(kind 'poem'\)"):
        load_tasks(_write(tmp_path / "kind.jsonl", [{**good, "kind": "poem"}]))
    assert load_tasks(_write(tmp_path / "ok.jsonl", [good]))[0].reject == ()


def _graded(kind: str, certainty: float | None, correct: bool) -> GradedAnswer:
    return GradedAnswer(
        task_id=f"{kind}-{certainty}-{correct}", kind=kind, text="", output_tokens=1,
        avg_logprob=None, certainty=certainty, raw_score=certainty, finish_reason="stop",
        correct=correct,
    )  # fmt: skip


def test_summary_auroc_is_one_when_certainty_separates_right_from_wrong():
    graded = [_graded("name", c, c > 0.5) for c in (0.9, 0.8, 0.7, 0.3, 0.2)]
    summary = summarise(graded)
    assert summary.n == 5 and summary.n_correct == 3 and summary.accuracy == pytest.approx(0.6)
    assert summary.auroc_certainty.value == 1.0
    assert summary.auroc_certainty.low <= 1.0 <= summary.auroc_certainty.high


def test_summary_answer_without_logprob_counts_as_no_confidence():
    graded = [_graded("date", 0.4, True), _graded("date", None, False)]
    assert summarise(graded).auroc_certainty.value == 1.0
    assert summarise(graded).with_logprob == 0  # avg_logprob itself is None in both


def test_a_short_run_does_not_claim_the_target():
    graded = [_graded("name", c, c > 0.5) for c in (0.9, 0.8, 0.3, 0.2)]
    assert "not judged on fewer than 200 tasks" in render(summarise(graded))
    many = [_graded("name", c / 250, c % 2 == 0) for c in range(1, 211)]
    assert "target >= 0.75: NOT met" in render(summarise(many))


def test_agreement_figures_appear_only_when_samples_were_taken():
    plain = [_graded("name", c, c > 0.5) for c in (0.9, 0.8, 0.3, 0.2)]
    assert summarise(plain).auroc_agreement is None
    assert "AUROC agreement" not in render(summarise(plain))

    sampled = [
        replace(g, agreement=1.0 - g.certainty, raw_score_with_agreement=0.5, sample_seconds=2.0,
                seconds=1.0)
        for g in plain
        if g.certainty is not None
    ]  # fmt: skip
    summary = summarise(sampled)
    assert summary.auroc_agreement is not None and summary.auroc_agreement.value == 0.0
    assert summary.sample_seconds_per_task == pytest.approx(2.0)
    assert "2.00 s more model time per answer (2.0x)" in render(summary)

"""The local-model comparison: its automatic scores, its references and its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.local_model_scores import KINDS, degenerate_reason, first_label, grade_answer
from evaluation.local_models import (
    DEFAULT_DEV_PATH,
    REFS_PATH,
    LocalModelReport,
    ModelRow,
    compare_local_models,
    load_items,
    main,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("Vote Tuesday.\nVote Tuesday.\nVote Tuesday.", "repeated lines"),
        ("we will win this race and " * 3, "repeated phrase"),
        ("1. 2. 3. 4. 5. 6.", "number list"),
        ("1\n2\n3\n4\n5\n6\n7", "number list"),
        ("Polls open at 7am on Tuesday, November 4.", None),
        ("1. Canvass\n2. Phone bank\n3. Text bank\n4. Lit drop\n5. Data entry", None),
        ("Raised $412,000, spent $388,500, $23,500 cash, $50,000 debt.", None),
    ],
)
def test_degenerate_answers_are_recognised(text: str, reason: str | None):
    assert degenerate_reason(text) == reason


FIX = {"kind": "fix", "fixed": ["COMMISSIONER", "counties"], "typos": ["COMMISIONER", "countys"]}
QUESTION = "typo check: RE-ELECT COMMISIONER LYDIA BARNES ... Echols countys"


@pytest.mark.parametrize(
    ("answer", "ref", "score"),
    [
        ("RE-ELECT COMMISSIONER LYDIA BARNES ... Echols counties", FIX, 1.0),
        ("RE-ELECT COMMISSIONER LYDIA BARNES ... Echols countys", FIX, 0.5 * 0.5),
        ("The re-election of the Democratic candidate was historic.", FIX, 0.0),
        ("$412,000 and $388,500", {"kind": "extract", "expected": ["412,000", "388,500"]}, 1.0),
        ("412k raised", {"kind": "extract", "expected": ["412,000|412k", "50,000"]}, 0.5),
        ("2019, proud", {"kind": "extract", "expected": ["2019"], "absent": ["proud"]}, 0.0),
        ("Maybe: she would take a small one.", {"kind": "label", "labels": ["yes", "no", "maybe"],
                                                "expected": "maybe"}, 1.0),
        ("I don't know, no.", {"kind": "label", "labels": ["yes", "no", "maybe"],
                               "expected": "maybe"}, 0.0),
        ("Thanks so much for hosting us at the Dunmore home last night, we raised $48k.",
         {"kind": "generate", "topic": ["Dunmore", "48"], "topic_min": 2}, 1.0),
        ("I'm going to the rally tomorrow.",
         {"kind": "generate", "topic": ["Dunmore", "48"], "topic_min": 1}, 0.0),
        ("Dunmore " + " ".join(f"w{i}" for i in range(300)),
         {"kind": "generate", "topic": ["Dunmore"]}, 0.5),
        ("RE-ELECT COMMISIONER LYDIA BARNES ... Echols countys",
         {"kind": "generate", "topic": ["BARNES"]}, 0.5),
        ("RE-ELECT COMMISIONER LYDIA BARNES", {"kind": "generate", "topic": ["BARNES"],
                                              "echo_ok": True}, 1.0),
        ("", {"kind": "generate"}, 0.0),
    ],
)  # fmt: skip
def test_answers_are_scored_against_their_reference(answer: str, ref: dict, score: float):
    assert grade_answer(answer, QUESTION, ref) == pytest.approx(score)


def test_unknown_reference_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown reference kind"):
        grade_answer("text", QUESTION, {"id": "dv-1", "kind": "vibes"})


def test_first_label_is_a_whole_word():
    assert first_label("I know it's a maybe", ["yes", "no", "maybe"]) == "maybe"
    assert first_label("Yes, then no", ["yes", "no", "maybe"]) == "yes"
    assert first_label("unclear", ["yes", "no"]) is None


def test_every_simple_dev_item_has_a_valid_reference_and_no_test_item_does():
    refs = [json.loads(line) for line in REFS_PATH.read_text().splitlines() if line.strip()]
    simple = {
        row["id"]
        for row in map(json.loads, DEFAULT_DEV_PATH.read_text().splitlines())
        if row["tier"] == "simple"
    }
    assert {ref["id"] for ref in refs} == simple
    assert all(ref["kind"] in KINDS for ref in refs)
    assert [item["id"] for item in load_items(DEFAULT_DEV_PATH, limit=3)] == sorted(simple)[:3]


def test_the_test_split_is_refused():
    with pytest.raises(ValueError, match="test split"):
        compare_local_models(ROOT / "data" / "routing" / "test.jsonl", progress=False)


def test_table_has_one_line_per_model_with_its_figures():
    row = ModelRow(
        model="smollm2-135m-instruct", gguf="x.gguf", prompt_format="chat", items=35,
        score=0.49, score_by_kind={"fix": 0.23, "label": 0.0}, degenerate_share=0.0,
        tokens_per_s=14.8, p50_latency_s=4.24,
    )  # fmt: skip
    header, line = LocalModelReport(rows=[row]).table().splitlines()
    assert header.split() == [
        "model", "prompt", "items", "score", "fix", "label", "degenerate", "tok/s", "p50", "s"
    ]  # fmt: skip
    assert line.split() == [
        "smollm2-135m-instruct", "chat", "35", "0.49", "0.23", "0.00", "0%", "14.8", "4.24"
    ]  # fmt: skip


def test_cli_help_names_its_options(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert "--format {table,json}" in text and "--limit" in text and "--model" in text

"""The labelled routing workload: parseable, validly labelled, no question in two places."""

from __future__ import annotations

import json
import re
from collections import Counter

from schemas.parts import TIERS
from services.classifier.dataset import DATA_DIR, SPLITS, load_split

MIN_EXAMPLES = 600


def _normalised(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def test_every_line_parses_with_the_documented_fields() -> None:
    for split in SPLITS:
        lines = (DATA_DIR / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        for line in lines:
            row = json.loads(line)
            assert {"id", "query", "tier", "deep", "analysis_type", "lang"} <= set(row), row
            assert set(row) <= {"id", "query", "tier", "deep", "analysis_type", "lang", "note"}


def test_labels_are_valid_and_every_tier_is_present_in_every_split() -> None:
    total = 0
    for split in SPLITS:
        examples = load_split(split)  # raises naming file and line on an invalid label
        total += len(examples)
        assert set(Counter(e.tier for e in examples)) == set(TIERS), split
        assert all(not e.deep or e.tier == "live" for e in examples)
        assert {e.lang for e in examples} == {"en", "es"}, split
    assert total >= MIN_EXAMPLES


def test_ids_are_unique_and_no_question_appears_twice_across_splits() -> None:
    ids: Counter[str] = Counter()
    queries: dict[str, str] = {}
    for split in SPLITS:
        for example in load_split(split):
            ids[example.id] += 1
            key = _normalised(example.query)
            assert key not in queries, f"{example.id} repeats {queries[key]}"
            queries[key] = example.id
    assert [i for i, n in ids.items() if n > 1] == []

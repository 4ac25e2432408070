"""Automatic scores for the local model's answers to routine tasks (pure, no I/O).

Each dev item has a reference in evaluation/local_model_refs.jsonl, keyed by dev id,
with one of four kinds:
- `fix` (spelling, grammar, capitalisation, voice): share of the corrected forms in
  `fixed` present, times share of the known mistakes in `typos` gone;
- `extract` (names, amounts, dates, facts): share of `expected` present (`a|b` accepts
  either), times share of `absent` not present;
- `label` (sentiment-like choices): 1 if the first of `labels` named is `expected`;
- `generate` (translations, rewrites, short drafts): plausibility only: 0 off topic
  (fewer than `topic_min` of `topic` appear), else the share of: length within
  `min_words`..`max_words`, not an echo of the question (unless `echo_ok`, for
  shortening). A human still reads these (docs/local_model.md).
A degenerate answer (empty, repeated lines or phrases, a list of numbers) scores 0.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from difflib import SequenceMatcher
from typing import Any

from core.text_measures import degenerate_reason

KINDS = ("fix", "extract", "label", "generate")
ECHO_SIMILARITY = 0.9
"""An answer this similar to the question repeats it instead of doing the task."""
DEFAULT_MIN_WORDS = 3
DEFAULT_MAX_WORDS = 250

_WORD = re.compile(r"\w+", re.UNICODE)


def grade_answer(answer: str, question: str, ref: Mapping[str, Any]) -> float:
    """A score in [0, 1] for `answer` against its reference; 0 when degenerate."""
    if degenerate_reason(answer) is not None:
        return 0.0
    kind = ref["kind"]
    if kind == "fix":
        case = bool(ref.get("case_sensitive", False))
        fixed, typos = ref.get("fixed", []), ref.get("typos", [])
        return _present(answer, fixed, case) * _absent(answer, typos, case)
    if kind == "extract":
        return _present(answer, ref.get("expected", [])) * _absent(answer, ref.get("absent", []))
    if kind == "label":
        return 1.0 if first_label(answer, ref["labels"]) == ref["expected"] else 0.0
    if kind == "generate":
        return _generate_score(answer, question, ref)
    raise ValueError(f"unknown reference kind {kind!r} for {ref.get('id')}")


def first_label(answer: str, labels: list[str]) -> str | None:
    """The label the answer names first, as a whole word (so "no" is not found in "know")."""
    found = [
        (match.start(), label)
        for label in labels
        if (match := re.search(rf"\b{re.escape(label)}\b", answer, re.IGNORECASE))
    ]
    return min(found)[1] if found else None


def _contains(text: str, wanted: str, case_sensitive: bool = False) -> bool:
    options = wanted.split("|")
    if case_sensitive:
        return any(option in text for option in options)
    return any(option.lower() in text.lower() for option in options)


def _present(answer: str, wanted: list[str], case_sensitive: bool = False) -> float:
    """Share of wanted strings found. Multiplied with `_absent`, so an unrelated answer (which
    trivially lacks the typos) still scores 0."""
    return _share([_contains(answer, item, case_sensitive) for item in wanted]) if wanted else 1.0


def _absent(answer: str, unwanted: list[str], case_sensitive: bool = False) -> float:
    if not unwanted:
        return 1.0
    return _share([not _contains(answer, item, case_sensitive) for item in unwanted])


def _generate_score(answer: str, question: str, ref: Mapping[str, Any]) -> float:
    """Off topic scores 0; on topic, the share of (sane length, not an echo)."""
    topic = ref.get("topic", [])
    if topic and sum(_contains(answer, word) for word in topic) < ref.get("topic_min", 1):
        return 0.0
    words = len(_WORD.findall(answer))
    sane_length = (
        ref.get("min_words", DEFAULT_MIN_WORDS) <= words <= ref.get("max_words", DEFAULT_MAX_WORDS)
    )
    echo_ok = bool(ref.get("echo_ok", False))  # shortening may keep whole sentences
    return _share([sane_length, echo_ok or not is_echo(answer, question)])


def is_echo(answer: str, question: str) -> bool:
    """Most of the answer is copied from the question (or the text pasted in it)."""
    matcher = SequenceMatcher(None, answer.lower(), question.lower(), autojunk=False)
    copied = sum(block.size for block in matcher.get_matching_blocks())
    return copied >= ECHO_SIMILARITY * len(answer.strip())


def _share(checks: list[bool]) -> float:
    return sum(checks) / len(checks) if checks else 0.0

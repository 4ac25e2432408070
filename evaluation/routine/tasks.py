"""The routine task files (data/routine/*.jsonl), loaded into validated models.

A task is what a strategist would type plus the checks a program applies to any answer
(data/routine/README.md has the format). The models refuse what would make a check
meaningless at grading time: an edit-ratio or similarity threshold without a
reference, a label outside the label set, `input` that is not part of the query, a
task with no check at all. `load_tasks` raises ValueError naming the file and line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.parts import ROUTINE_KINDS, RoutineKind

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data" / "routine"
SPLITS = ("dev", "test")
ID_PREFIX = {"dev": "rd-", "test": "rt-"}
Kind = RoutineKind
KINDS: tuple[str, ...] = ROUTINE_KINDS
Lang = Literal["en", "es"]
Phrase = str | list[str]
"""A required phrase, or a list of alternatives of which one must appear."""

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Check(BaseModel):
    """Everything an answer must satisfy to be usable; absent fields are not checked."""

    model_config = _FROZEN

    reference: str | None = Field(default=None, min_length=1)
    min_similarity: float | None = Field(default=None, gt=0, le=1)
    max_edit_ratio: float | None = Field(default=None, ge=0, le=1)
    required: list[Phrase] = Field(default_factory=list)
    forbidden: list[str] = Field(default_factory=list)
    exact: bool = False
    """Compare `required` and `forbidden` with case and accents (capitalisation, accents)."""
    grounded: bool = False
    min_words: int | None = Field(default=None, ge=1)
    max_words: int | None = Field(default=None, ge=1)
    max_chars: int | None = Field(default=None, ge=1)
    count: int | None = Field(default=None, ge=1)
    max_item_words: int | None = Field(default=None, ge=1)
    item_pattern: str | None = None
    """A regular expression: the items are its matches instead of the answer's lines."""
    expected_label: str | None = None
    labels: list[str] = Field(default_factory=list)
    expected_number: int | None = None
    language: Lang | None = None
    not_echo: bool = False
    max_copied_share: float | None = Field(default=None, gt=0, le=1)
    """At most this share of the answer may be one run of words copied from the input
    (a rewrite that hands most of the text back is not a rewrite)."""

    @model_validator(mode="after")
    def _consistent(self) -> Check:
        if (self.min_similarity or self.max_edit_ratio is not None) and not self.reference:
            raise ValueError("min_similarity and max_edit_ratio need a reference")
        if self.expected_label is not None and self.expected_label not in self.labels:
            raise ValueError(f"expected_label {self.expected_label!r} is not in labels")
        if self.item_pattern is not None:
            re.compile(self.item_pattern)
        if any(isinstance(p, list) and not p for p in self.required):
            raise ValueError("an empty list of alternatives in required")
        return self

    def checks_named(self) -> list[str]:
        """The checks this task applies (the reference alone is an example, not a check)."""
        named = [
            name
            for name, value in (
                ("similarity", self.min_similarity),
                ("edit_ratio", self.max_edit_ratio),
                ("required", self.required),
                ("forbidden", self.forbidden),
                ("grounded", self.grounded),
                ("min_words", self.min_words),
                ("max_words", self.max_words),
                ("max_chars", self.max_chars),
                ("count", self.count),
                ("max_item_words", self.max_item_words),
                ("label", self.expected_label),
                ("number", self.expected_number),
                ("language", self.language),
                ("not_echo", self.not_echo),
                ("copied", self.max_copied_share),
            )  # fmt: skip
            if value not in (None, False, [])
        ]
        return named


class Task(BaseModel):
    """One routine task: the query as typed, the material it works on, its checks."""

    model_config = _FROZEN

    id: str = Field(pattern=r"^r[dt]-\d{3}$")
    kind: Kind
    lang: Lang
    """The language of the answer asked for."""
    query: str = Field(min_length=1)
    input: str | None = Field(default=None, min_length=1)
    """The pasted material (part of `query`): what grounding and the echo check compare
    the answer with; the whole query when absent."""
    check: Check

    @model_validator(mode="after")
    def _input_in_query(self) -> Task:
        if self.input is not None and self.input not in self.query:
            raise ValueError("input must be part of the query")
        if not self.check.checks_named():
            raise ValueError("a task needs at least one check")
        return self

    @property
    def material(self) -> str:
        """What the answer may draw on: the input, else the query."""
        return self.input if self.input is not None else self.query


def split_path(split: str, data_dir: Path = DATA_DIR) -> Path:
    """The file of a split; raises ValueError for an unknown split."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return data_dir / f"{split}.jsonl"


def load_tasks(split: str, data_dir: Path = DATA_DIR) -> list[Task]:
    """Every task of a split, in file order. Raises ValueError naming the file and line
    of a bad line, a repeated id, or an id with the other split's prefix."""
    path = split_path(split, data_dir)
    tasks: list[Task] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                task = Task.model_validate(json.loads(line))
            except (json.JSONDecodeError, ValidationError) as err:
                raise ValueError(f"{path}:{number}: {err}") from err
            if not task.id.startswith(ID_PREFIX[split]) or task.id in seen:
                raise ValueError(f"{path}:{number}: id {task.id!r} repeated or of another split")
            seen.add(task.id)
            tasks.append(task)
    return tasks

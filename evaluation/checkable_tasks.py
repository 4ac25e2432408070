"""The real confidence set's tasks: exactly checkable questions and their grading.

data/confidence/real_tasks.jsonl holds spelling fixes, arithmetic, a date or a name
taken from a short text, each with one reference answer (and strings a right answer
lacks). `grade` compares an answer with the reference after normalising both; the
local model's answers to these tasks are evaluation/graded_answers.py.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS_PATH = ROOT / "data" / "confidence" / "real_tasks.jsonl"
KINDS = ("spelling", "arithmetic", "date", "name")

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class Task:
    """One checkable task: the prompt, its reference answer, strings a right answer lacks."""

    id: str
    kind: str
    prompt: str
    answer: str
    reject: tuple[str, ...] = ()


def load_tasks(path: Path = TASKS_PATH) -> list[Task]:
    """The task file, validated. Raises ValueError naming the line of a bad or repeated task."""
    tasks: list[Task] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            task = Task(
                id=str(row["id"]),
                kind=str(row["kind"]),
                prompt=str(row["prompt"]),
                answer=str(row["answer"]),
                reject=tuple(str(r) for r in row.get("reject", ())),
            )
            if task.kind not in KINDS or not task.prompt.strip() or not task.answer.strip():
                raise ValueError(f"{path}:{number}: bad task {task.id!r} (kind {task.kind!r})")
            if task.id in seen:
                raise ValueError(f"{path}:{number}: repeated task id {task.id!r}")
            seen.add(task.id)
            tasks.append(task)
    return tasks


def normalise(text: str) -> str:
    """Lower case, NFKC, straight quotes, punctuation to spaces (apostrophes dropped),
    thousands separators dropped, single spaces: so "Saturday." equals "saturday"."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = text.replace("'", "")
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())


def _contains(haystack: str, needle: str) -> bool:
    """`needle` as whole words inside `haystack` (both normalised)."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def numbers_in(text: str) -> list[str]:
    """Numbers as written, thousands separators removed ("1,250" -> "1250")."""
    return [n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)]


def grade(task: Task, text: str) -> bool:
    """Right or wrong, by normalised comparison with the reference.

    - arithmetic: the first number in the answer that is not an operand of the question
      equals the reference (so "17 + 25 = 42" and "The answer is 42." are both right);
    - spelling, date, name: the reference appears in the answer as whole words, and no
      `reject` string does (the misspelled word, the other date, the other person).
    """
    if task.kind == "arithmetic":
        operands = set(numbers_in(task.prompt))
        fresh = [n for n in numbers_in(text) if n not in operands]
        return bool(fresh) and float(fresh[0]) == float(task.answer)
    answer = normalise(text)
    if not _contains(answer, normalise(task.answer)):
        return False
    return not any(_contains(answer, normalise(bad)) for bad in task.reject)

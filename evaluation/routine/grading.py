"""Is an answer to a routine task usable? Every check of the task, applied by a program.

Pure: a `Task` and the answer's text in, a `Grade` out (usable, and each failed check
with a reason a person can act on). An answer is usable only when every check the task
names passes; an empty answer fails outright. The checks read the answer's body
(`measures.body`: without a "Here is ...:" line and wrapping quotes), so a preamble a
strategist would delete costs nothing, while a wrong fact, language or count does:

- similarity: word overlap (ROUGE-1 F1) with the reference >= `min_similarity`;
- edit_ratio: character edit distance to the reference over its length <= `max_edit_ratio`
  (proofreading: fix the errors, change nothing else);
- required / forbidden: phrases as whole words, case and accents ignored unless `exact`;
  a list in `required` is a set of alternatives;
- grounded: every number, and every capitalised word that does not start a sentence,
  appears in the query ("reached 9,000 voters" from a text that says 900 fails);
- min_words / max_words / max_chars: the length the task states;
- count: the number of items (lines without bullets, or matches of `item_pattern`);
  max_item_words bounds each line (five subject lines, not an email body);
- label: the first label named is the expected one (`positiva` names `positivo`);
- number: the first number in the answer, digits or a word, is the expected count;
- language: `language.guess_language` decides the language asked for;
- not_echo: not the input handed back (nearly) unchanged, nor the whole query copied;
- copied: at most `max_copied_share` of the answer is one run of words from the input;
- degenerate (always): no line said 3 times, no 6-word phrase 3 times, not a list of
  numbers (`core.text_measures.degenerate_reason`, the comparison's rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from core.language import guess_language
from core.text_measures import (
    body,
    contains_phrase,
    copied_share,
    degenerate_reason,
    edit_ratio,
    fold,
    items,
    not_in_source,
    numbers,
    word_f1,
    words,
)
from evaluation.routine.tasks import Check, Task

ECHO_MAX_EDIT_RATIO = 0.05
"""An answer this close to the input is the input handed back."""
_NUMBER_WORDS = (
    "zero cero|once one uno|twice two dos|three tres|four cuatro|five cinco|six seis|"
    "seven siete|eight ocho|nine nueve|ten diez|eleven|twelve doce|thirteen trece|"
    "fourteen catorce|fifteen quince|sixteen dieciseis|seventeen diecisiete|"
    "eighteen dieciocho|nineteen diecinueve|twenty veinte"
)
NUMBER_WORDS = {
    word: value for value, group in enumerate(_NUMBER_WORDS.split("|")) for word in group.split()
}
"""Counts written as words, English and Spanish (folded). Not "a"/"una" (articles far more
often than counts), and "once" is the English one: a Spanish eleven is written "11"."""
_MIN_STEM_LABEL = 5
"""Labels at least this long match any ending ("positiv-o/-a/-e", "neutr-al/-o")."""


@dataclass(frozen=True)
class FailedCheck:
    """One check an answer did not pass, and why."""

    check: str
    reason: str


@dataclass(frozen=True)
class Grade:
    """Usable only with no failed check."""

    usable: bool
    failed: tuple[FailedCheck, ...] = ()

    @property
    def failed_names(self) -> list[str]:
        return [failure.check for failure in self.failed]


def grade(task: Task, answer: str) -> Grade:
    """Apply every check `task` names to `answer`."""
    if not answer.strip():
        return Grade(usable=False, failed=(FailedCheck("answered", "the answer is empty"),))
    text = body(answer)
    failed = []
    for name, check in _CHECKS:
        reason = check(task, task.check, text, answer)
        if reason is not None:
            failed.append(FailedCheck(name, reason))
    return Grade(usable=not failed, failed=tuple(failed))


Reason = str | None


def _similarity(task: Task, check: Check, text: str, answer: str) -> Reason:
    if not check.min_similarity or check.reference is None:
        return None
    score = word_f1(text, check.reference)
    if score >= check.min_similarity:
        return None
    return f"word overlap with the reference {score:.2f} < {check.min_similarity:.2f}"


def _edit_ratio(task: Task, check: Check, text: str, answer: str) -> Reason:
    if check.max_edit_ratio is None or check.reference is None:
        return None
    ratio = edit_ratio(text, check.reference)
    if ratio <= check.max_edit_ratio:
        return None
    return f"edit ratio to the corrected text {ratio:.2f} > {check.max_edit_ratio:.2f}"


def _required(task: Task, check: Check, text: str, answer: str) -> Reason:
    missing = []
    for phrase in check.required:
        options = [phrase] if isinstance(phrase, str) else phrase
        if not any(contains_phrase(text, option, exact=check.exact) for option in options):
            missing.append(" / ".join(options))
    return f"missing: {'; '.join(missing)}" if missing else None


def _forbidden(task: Task, check: Check, text: str, answer: str) -> Reason:
    present = [p for p in check.forbidden if contains_phrase(text, p, exact=check.exact)]
    return f"must not contain: {'; '.join(present)}" if present else None


def _grounded(task: Task, check: Check, text: str, answer: str) -> Reason:
    if not check.grounded:
        return None
    invented = not_in_source(task.query, text)
    if not invented:
        return None
    return f"not in the input: {', '.join(invented)}"


def _length(task: Task, check: Check, text: str, answer: str) -> Reason:
    count = len(words(text))
    if check.max_words is not None and count > check.max_words:
        return f"{count} words > {check.max_words}"
    if check.min_words is not None and count < check.min_words:
        return f"{count} words < {check.min_words}"
    if check.max_chars is not None and len(text) > check.max_chars:
        return f"{len(text)} characters > {check.max_chars}"
    return None


def _count(task: Task, check: Check, text: str, answer: str) -> Reason:
    if check.count is None:
        return None
    if check.item_pattern is not None:
        found = list(dict.fromkeys(fold(m) for m in re.findall(check.item_pattern, text)))
    else:
        found = items(text)
    if len(found) == check.count:
        return None
    return f"{len(found)} items, {check.count} asked"


def _item_words(task: Task, check: Check, text: str, answer: str) -> Reason:
    if check.max_item_words is None:
        return None
    long = [item for item in items(text) if len(words(item)) > check.max_item_words]
    if not long:
        return None
    return f"{len(long)} items over {check.max_item_words} words (first: {long[0][:60]!r})"


def _label(task: Task, check: Check, text: str, answer: str) -> Reason:
    if check.expected_label is None:
        return None
    named = first_label(text, check.labels)
    if named == check.expected_label:
        return None
    return f"label {named or 'none'}, expected {check.expected_label}"


def first_label(text: str, labels: list[str]) -> str | None:
    """The label the answer names first; long labels match any ending (positivo/positiva)."""
    for word in words(fold(text)):
        for label in labels:
            stem = fold(label)
            if len(stem) >= _MIN_STEM_LABEL:
                stem = stem[:-1]
                if word.startswith(stem) and len(word) <= len(stem) + 3:
                    return label
            elif word == stem:
                return label
    return None


def _number(task: Task, check: Check, text: str, answer: str) -> Reason:
    if check.expected_number is None:
        return None
    found = first_number(text)
    if found == check.expected_number:
        return None
    return f"counted {found if found is not None else 'nothing'}, expected {check.expected_number}"


def first_number(text: str) -> int | None:
    """The first number in the text, written with digits or as a word up to twenty."""
    for word in words(fold(text)):
        digits = numbers(word)
        if digits and digits[0].isdigit():
            return int(digits[0])
        if word in NUMBER_WORDS:
            return NUMBER_WORDS[word]
    return None


def _language(task: Task, check: Check, text: str, answer: str) -> Reason:
    if check.language is None:
        return None
    guess = guess_language(text)
    if guess.language == check.language:
        return None
    seen = guess.language or "undecided"
    return (
        f"language {seen} (english signals {guess.english}, spanish {guess.spanish}), "
        f"{check.language} asked"
    )


def _not_echo(task: Task, check: Check, text: str, answer: str) -> Reason:
    if not check.not_echo:
        return None
    if edit_ratio(fold(text), fold(task.material)) <= ECHO_MAX_EDIT_RATIO:
        return "the input handed back unchanged"
    if " ".join(fold(task.query).split()) in " ".join(fold(answer).split()):
        return "the query copied into the answer"
    return None


def _copied(task: Task, check: Check, text: str, answer: str) -> Reason:
    if check.max_copied_share is None:
        return None
    share = copied_share(text, task.material)
    if share <= check.max_copied_share:
        return None
    return f"{share:.0%} of the answer copied from the input (at most {check.max_copied_share:.0%})"


def _degenerate(task: Task, check: Check, text: str, answer: str) -> Reason:
    return degenerate_reason(answer)


_CHECKS: tuple[tuple[str, Callable[[Task, Check, str, str], Reason]], ...] = (
    ("similarity", _similarity), ("edit_ratio", _edit_ratio), ("required", _required),
    ("forbidden", _forbidden), ("grounded", _grounded), ("length", _length),
    ("count", _count), ("max_item_words", _item_words), ("label", _label),
    ("number", _number), ("language", _language), ("not_echo", _not_echo),
    ("copied", _copied), ("degenerate", _degenerate),
)  # fmt: skip

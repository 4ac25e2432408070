"""Cheap checks on a local answer before anyone sees it: did it do what the question asked?

The routine set showed what a 135M model gets wrong while sounding fine (issue 19): the
input handed back, five subject lines that came back as an email body, a translation
left half in English, "reached 9,000 voters" from a text that says 900, an invented
"20th March, 2023". The confidence score cannot see these; a program can, from the
question and the answer alone:

- `echo`: the answer is the pasted text handed back unchanged (for a fix or a proofread:
  identical; otherwise nearly identical), or the whole question copied;
- `count`: the question asks for N items ("3 hashtags", "five subject lines", "one per
  line") and the answer has another number of them;
- `length`: the question states a limit ("under 25 words", "160 characters", "in one
  line") and the answer breaks it;
- `language`: the answer is not in the language asked for ("into Spanish", or the
  question's own language), or a translation keeps a run of the original's words;
- `grounded`: a number, or a capitalised name or date, in the answer that is nowhere in
  the question, for the kinds that must only use the input (summaries, extraction,
  rewrites, fixes, lists made from a text);
- `label`: the question offers labels ("positive, negative or neutral") and the answer
  does not name exactly one of them;
- `number`: a counting question ("how many", "cuántas") answered without a number;
- `edited`: a fix, proofread or re-casing that is not the pasted text corrected (far
  from it, by edit distance);
- `off_task`: the model talking about itself instead of doing the task ("as an
  analyst, I specialize in ...", "I'm ready to assist");
- `degenerate`: a loop (a line said three times, a phrase repeated), or empty.

Pure: `check_answer(query, answer, kind)` returns the failed checks with reasons. The
measures are the routine grader's (`core.text_measures`, `core.language`), so the
checks and the grading agree on what a word, an item or a number is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from core.language import guess_language
from core.text_measures import (
    body,
    degenerate_reason,
    edit_ratio,
    fold,
    items,
    not_in_source,
    numbers,
    words,
)

ECHO_MAX_EDIT_RATIO = 0.05
"""An answer this close to the pasted text is that text handed back (not for fixes)."""
LENGTH_SLACK = 1.5
"""A stated size ("a 40-word bio") is a target, not a cap: at most this times it."""
MIN_WORDS_FOR_LANGUAGE = 4
"""Shorter answers (a label, a name, a number) carry too few words to tell a language."""
EDITING_KINDS = frozenset({"fix_grammar", "proofread", "capitalise"})
"""Kinds whose right answer may differ from the input by a character."""
GROUNDED_KINDS = frozenset(
    {"summarise", "extract", "shorten", "rewrite", "fix_grammar", "proofread", "capitalise",
     "list", "reminder"}
)  # fmt: skip
"""Kinds whose answer may only use facts of the pasted text: a new number or name is
invented (not counting: its answer is a new number)."""
NAMES_UNCHECKED_KINDS = frozenset({"translate"})
"""Translations rightly bring capitalised words the input does not have ("Election Day"),
and so do fixes ("Tusday" -> "Tuesday"): their numbers are checked, not their names."""

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
}  # fmt: skip
_N = r"(\d{1,2}|" + "|".join(_NUMBER_WORDS) + r")"
_ITEM_NOUNS = (
    r"(?:subject lines?|hashtags?|slogans?|taglines?|headlines?|reasons?|ideas?|steps?|"
    r"things?|tips?|questions?|items?|bullet points?|bullets?|points?|options?|names?|"
    r"asuntos?|esloganes|eslogan|lemas?|razones|ideas|pasos|consejos|preguntas|puntos|"
    r"opciones|elementos|titulares)"
)
_COUNT_ASKED = re.compile(
    rf"\b{_N}\s+(?:(?!(?:per|por|each|cada)\b)[\w'-]+\s+){{0,3}}?{_ITEM_NOUNS}\b"
)
_MAX_WORDS = re.compile(
    rf"(?:under|at most|no more than|fewer than|less than|max(?:imum)?(?: of)?|menos de|"
    rf"no mas de|como maximo|maximo)\s+{_N}\s+(?:words|palabras)|"
    rf"\b{_N}\s+(?:words|palabras)\s+(?:or (?:fewer|less)|max(?:imum)?|o menos|como maximo)"
)
_TARGET_WORDS = re.compile(rf"\b{_N}[- ](?:word|palabra)s?\b|\bde {_N} palabras\b")
_EACH = re.compile(r"\s*(?:each|apiece|cada uno|cada una)\b")
_MAX_CHARS = re.compile(r"\b(\d{2,4})[- ](?:characters?|chars?|caracteres)\b")
_ONE_LINE = re.compile(r"\b(?:in one line|one-line|a single line|en una (?:sola )?linea)\b")
_LANGUAGE_ASKED = (
    ("es", re.compile(r"\b(?:into|to|in) spanish\b|\b(?:al|en) espanol\b")),
    ("en", re.compile(r"\b(?:into|to|in) english\b|\b(?:al|en) ingles\b")),
)
_HASHTAG = re.compile(r"#\w+")
_LABELS = re.compile(r"\b([a-z]{3,}), ([a-z]{3,}),? (?:or|o) ([a-z]{3,})\b")
_COUNTING = re.compile(r"^\W*(?:how many|count\b|cuant[oa]s|cuenta\b)")
_OFF_TASK = re.compile(
    r"\bas an? (?:ai|analyst|assistant|language model)\b|\bi specialize in\b|"
    r"\bi'm ready to assist\b|\bmy primary (?:role|focus)\b|\bi'd be happy to\b|"
    r"\bi'll be happy to help\b|\bsorry for (?:the|any) confusion\b|\bi can't provide\b|"
    r"\bplease provide (?:me|the|a)\b"
)
EDITED_MAX_RATIO = 0.4
"""A fix changes a few characters; an answer this far from the pasted text (case and
accents ignored) is another text."""
UNTRANSLATED_RUN_WORDS = 3
"""A translation that keeps this many consecutive words of the input (not a name) left
part of it untranslated: "... earlier at your local library es el que ..."."""


@dataclass(frozen=True)
class FailedAnswerCheck:
    """One check the answer did not pass, and why (shown in the escalation reason)."""

    check: str
    reason: str

    def __str__(self) -> str:
        return f"{self.check}: {self.reason}"


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS[token]


def split_query(query: str) -> tuple[str, str]:
    """(instruction, material): the first non-empty line, and what follows it (the pasted
    text; empty when the question is one line)."""
    lines = query.strip().splitlines()
    return lines[0] if lines else "", "\n".join(lines[1:]).strip()


def check_answer(query: str, answer: str, kind: str | None = None) -> list[FailedAnswerCheck]:
    """Every check `answer` fails for `query` (empty: release it). `kind` is the routine
    kind the classifier recognised, when it did."""
    if not answer.strip():
        return [FailedAnswerCheck("empty", "the answer is empty")]
    text = body(answer)
    instruction, material = split_query(query)
    asked = fold(instruction)
    failed = [
        FailedAnswerCheck(name, reason)
        for name, reason in (
            ("echo", _echo(query, material, answer, text, kind)),
            ("count", _count(asked, text)),
            ("length", _length(asked, text)),
            ("language", _language(instruction, asked, material, text, kind)),
            ("grounded", _grounded(query, material, text, kind)),
            ("label", _label(asked, text)),
            ("number", _counted(asked, text, kind)),
            ("edited", _edited(material, text, kind)),
            ("off_task", _off_task(text)),
            ("degenerate", degenerate_reason(answer)),
        )
        if reason is not None
    ]
    return failed


def _echo(query: str, material: str, answer: str, text: str, kind: str | None) -> str | None:
    if " ".join(fold(query).split()) in " ".join(fold(answer).split()):
        return "the question copied into the answer"
    if not material:
        return None
    if kind is None or kind in EDITING_KINDS:  # a fix may change one character
        if " ".join(text.split()) == " ".join(material.split()):
            return "the text handed back unchanged"
        return None
    if edit_ratio(text, material) <= ECHO_MAX_EDIT_RATIO:
        return "the pasted text handed back (nearly) unchanged"
    return None


def _count(asked: str, text: str) -> str | None:
    match = _COUNT_ASKED.search(asked)
    if match is None:
        return None
    wanted = _number(match.group(1))
    if "hashtag" in match.group(0):
        found = len(dict.fromkeys(fold(tag) for tag in _HASHTAG.findall(text)))
    else:
        found = len(items(text))
    if found == wanted:
        return None
    return f"{found} items, {wanted} asked"


def _length(asked: str, text: str) -> str | None:
    count = len(words(text))
    if (match := _MAX_WORDS.search(asked)) is not None:
        limit = _number(next(group for group in match.groups() if group))
        if _EACH.match(asked, match.end()):  # "under 8 words each": a limit per item
            count = max((len(words(item)) for item in items(text)), default=0)
        if count > limit:
            return f"{count} words, at most {limit} asked"
    elif (match := _TARGET_WORDS.search(asked)) is not None:
        target = _number(next(group for group in match.groups() if group))
        if count > LENGTH_SLACK * target:
            return f"{count} words, about {target} asked"
    if (match := _MAX_CHARS.search(asked)) is not None and len(text) > int(match.group(1)):
        return f"{len(text)} characters, at most {match.group(1)} asked"
    if _ONE_LINE.search(asked) and len(items(text)) > 1:
        return f"{len(items(text))} lines, one asked"
    return None


def _language(
    instruction: str, asked: str, material: str, text: str, kind: str | None
) -> str | None:
    wanted = next((lang for lang, pattern in _LANGUAGE_ASKED if pattern.search(asked)), None)
    explicit = wanted is not None
    if wanted is None and kind != "translate":
        wanted = guess_language(instruction).language  # answer in the question's language
    if wanted is None or kind == "hashtags" or len(words(text)) < MIN_WORDS_FOR_LANGUAGE:
        return None
    if kind == "translate" and (kept := _untranslated(material, text)) is not None:
        return f"left untranslated: {kept!r}"
    guess = guess_language(text)
    if guess.language == wanted or (guess.language is None and not explicit):
        return None
    seen = "a mix" if guess.language is None else guess.language
    return f"answer in {seen}, {wanted} asked"


def _label(asked: str, text: str) -> str | None:
    match = _LABELS.search(asked)
    if match is None:
        return None
    offered = match.groups()
    named = {label for label in offered if re.search(rf"\b{label[:-1]}\w?\b", fold(text))}
    if len(named) == 1:
        return None
    return f"names {len(named)} of the labels offered ({', '.join(offered)}), one asked"


def _counted(asked: str, text: str, kind: str | None) -> str | None:
    if kind != "count" and not _COUNTING.search(asked):
        return None
    if numbers(text) or any(fold(word) in _NUMBER_WORDS for word in words(text)):
        return None
    return "a count was asked and the answer has no number"


def _edited(material: str, text: str, kind: str | None) -> str | None:
    if kind not in EDITING_KINDS or not material:
        return None
    ratio = edit_ratio(fold(text), fold(material))
    if ratio <= EDITED_MAX_RATIO:
        return None
    return f"not the pasted text corrected (edit ratio {ratio:.2f} > {EDITED_MAX_RATIO})"


def _off_task(text: str) -> str | None:
    match = _OFF_TASK.search(fold(text))
    return None if match is None else f"talks about itself: {match.group(0)!r}"


def _untranslated(material: str, text: str) -> str | None:
    """The longest run of the pasted text's words kept in a translation, when it is
    `UNTRANSLATED_RUN_WORDS` long and not a name (every word capitalised); else None."""
    kept, source = words(text), words(material)
    if not kept or not source:
        return None
    matcher = SequenceMatcher(None, [fold(w) for w in kept], [fold(w) for w in source])
    run = matcher.find_longest_match()
    found = kept[run.a : run.a + run.size]
    wordy = [word for word in found if len(word) >= 3 and word.isalpha()]  # not "6 p m"
    if len(wordy) < UNTRANSLATED_RUN_WORDS or all(word[0].isupper() for word in found):
        return None
    return " ".join(found)


def _grounded(query: str, material: str, text: str, kind: str | None) -> str | None:
    if not material or (kind not in GROUNDED_KINDS and kind != "translate"):
        return None  # nothing pasted: the answer may bring its own facts
    names = kind not in NAMES_UNCHECKED_KINDS and kind not in EDITING_KINDS
    invented = not_in_source(query, text, names=names)
    if not invented:
        return None
    return f"not in the question: {', '.join(invented)}"

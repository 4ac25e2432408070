"""Which kind of routine task a query asks for: rules over its instruction, English and
Spanish.

The routing policy sends a routine task to the local model only for the kinds where
that model's measured usable rate reaches a threshold (`core/capability_policy.py`), so
the classifier must name the kind. The kinds are the routine set's (`schemas.parts.
RoutineKind`). Rules are enough here: a routine request states its task in its first
words ("Translate into Spanish:", "Resume en una línea:"), and a wrong kind costs little
(the policy falls back to a hosted model for an unrecognised one). Accuracy on the
routine set is measured by `python -m core.routine_kind` and pinned by
`tests/unit/test_routine_kind.py` (docs/routing.md has the figures).

Only the instruction is read: the first line, at most `INSTRUCTION_CHARS`, folded (lower
case, no accents), so a pasted text that says "thank you" does not make a thank-you note.
Rules are tried in order; the first that matches names the kind, so the specific ones
("shorten this subject line", "title case") come before the general ones.
"""

from __future__ import annotations

import re
import sys

from core.text_measures import fold
from schemas.parts import RoutineKind

INSTRUCTION_CHARS = 240
"""How much of the first line is read: a routine instruction is a sentence or two."""

_RULES: tuple[tuple[RoutineKind, str], ...] = (
    ("translate", r"\btranslat|\btraduc"),
    ("capitalise", r"capitali[sz]|title case|sentence case|mayuscul|upper ?case|lower ?case"),
    ("sentiment", r"sentiment|positive, negative|positivo, negativo|\btone of (this|the)\b"),
    (
        "shorten",
        r"\bshorten|\bcut (this|it)\b.*\b(to|under|down)|\btighten|\btrim\b|"
        r"\bacorta|\breduce (este|esta|el|la)\b|\ben un sms de menos",
    ),  # fmt: skip
    ("proofread", r"proofread|\brevisa\b|corrige (este|esta) (aviso|parrafo|texto|publicacion)"),
    (
        "fix_grammar",
        r"\bfix\b|\bcorrect (the|this|these)\b|\bcorrige|spelling|grammar|"
        r"\bortografia|\bgramatica|apostrophe",
    ),  # fmt: skip
    ("summarise", r"summar|\bresume\b|\bresumen\b|\btl;?dr\b|\bsintetiza"),
    (
        "extract",
        r"\bextract|\bextrae|\bwho (will|is|was)\b|\bquien\b|\bwhat is the "
        r"(address|date|deadline|name|time|amount)|mentioned, one per line|"
        r"\bgive just the (number|name)|\bsolo el (nombre|numero)",
    ),  # fmt: skip
    ("count", r"\bcount\b|\bcuenta\b|\bhow many\b|\bcuant[oa]s\b"),
    ("subject_lines", r"subject line|\basuntos? de correo|\basuntos? para"),
    ("hashtags", r"hashtag"),
    ("slogan", r"slogan|\beslogan|tagline|\blema\b"),
    ("thank_you", r"thank|\bagradec|\bgracias a\b"),
    ("bio", r"\bbio\b|\bbiograf"),
    ("decline", r"\bdeclin|\brechaz|\bturn down\b|\bsay no\b"),
    ("reminder", r"remind|\brecordatorio|\brecuerda\b|\brecordar\b"),
    ("list", r"\blist\b|\bchecklist|\benumera|\blista\b|\bbullet|\bone per line"),
    (
        "rewrite",
        r"\brewrit|\breword|\brephrase|\breescrib|\bredacta de nuevo|"
        r"\bmake (this|it) (more|less|sound)|\bmore formal\b|\bfriendlier\b",
    ),  # fmt: skip
)
KIND_NAMES: dict[str, str] = {
    "rewrite": "rewrites", "shorten": "shortening", "fix_grammar": "grammar and spelling fixes",
    "proofread": "proofreading", "translate": "translation", "summarise": "summaries",
    "sentiment": "sentiment labels", "extract": "extraction", "list": "lists",
    "count": "counting", "capitalise": "capitalisation", "subject_lines": "subject lines",
    "slogan": "slogans", "hashtags": "hashtags", "thank_you": "thank-you notes",
    "bio": "short bios", "decline": "polite declines", "reminder": "reminders",
}  # fmt: skip
"""How a kind reads in a sentence ("local model not used for translation")."""
_COMPILED = tuple((kind, re.compile(pattern)) for kind, pattern in _RULES)


def instruction(query: str) -> str:
    """The part of `query` that states the task: its first non-empty line, folded."""
    first = next((line for line in query.splitlines() if line.strip()), "")
    return fold(first[:INSTRUCTION_CHARS])


def routine_kind(query: str) -> RoutineKind | None:
    """The routine kind the query's instruction asks for, or None when no rule matches."""
    text = instruction(query)
    return next((kind for kind, pattern in _COMPILED if pattern.search(text)), None)


def main() -> int:
    """Print the recogniser's accuracy on the routine set's splits (a measurement tool:
    the task files are read from data/routine/, not shipped with production)."""
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "data" / "routine"
    for split in ("dev", "test"):
        rows = [json.loads(line) for line in (root / f"{split}.jsonl").open(encoding="utf-8")]
        right = sum(routine_kind(row["query"]) == row["kind"] for row in rows)
        print(f"{split}: {right}/{len(rows)} kinds right ({right / len(rows):.1%})")
        for row in rows:
            got = routine_kind(row["query"])
            if got != row["kind"]:
                print(f"  {row['id']} {row['kind']} -> {got}: {instruction(row['query'])[:80]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

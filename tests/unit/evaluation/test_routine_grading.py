"""The routine checks, one table row per check passing and failing, the issue's own
examples among them, and the language guess they rely on."""

from __future__ import annotations

from typing import Any

import pytest

from core.language import guess_language
from core.text_measures import body, capitalised_names, edit_ratio, items, numbers
from evaluation.routine.grading import first_label, first_number, grade
from evaluation.routine.tasks import Task

SUMMARY_INPUT = (
    "Volunteers made 4,200 calls, reached 900 voters and signed up 12 hosts on Saturday."
)


def task(query: str = "Do the task.", *, kind: str = "rewrite", lang: str = "en",
         input: str | None = None, **check: Any) -> Task:  # fmt: skip
    row: dict[str, Any] = {"id": "rd-001", "kind": kind, "lang": lang, "query": query}
    if input is not None:
        row["input"] = input
    row["check"] = check
    return Task.model_validate(row)


CASES = [
    # (name, task, answer, usable, failed check)
    ("grounded: the issue's 9,000 for 900",
     task(f"Summarize in one line: {SUMMARY_INPUT}", kind="summarise", grounded=True),
     "Volunteers made 4,200 calls and reached 9,000 voters.", False, "grounded"),
    ("grounded: the facts of the input",
     task(f"Summarize in one line: {SUMMARY_INPUT}", kind="summarise", grounded=True),
     "Saturday: 4200 calls, 900 voters reached, 12 new hosts.", True, None),
    ("grounded: an invented name",
     task("Thank Priya for hosting the house party.", kind="thank_you", grounded=True),
     "Dear Sarah, thank you for hosting the house party, Priya.", False, "grounded"),
    ("grounded: an invented date",
     task("Turn into a list: call the printer, book the hall.", kind="list", grounded=True),
     "- Call the printer on 20th March, 2023 at 18:45\n- Book the hall", False, "grounded"),
    ("grounded: the Library of Congress",
     task("Proofread: Meet us at the libary.", kind="proofread", grounded=True),
     "Meet us at the Library of Congress.", False, "grounded"),
    ("language: English answer to a translate-into-Spanish task",
     task("Translate into Spanish: Vote early at your local library.", kind="translate",
          lang="es", language="es"),
     "Vote early at your local library today.", False, "language"),
    ("language: Spanish asked and given",
     task("Translate into Spanish: Vote early at your local library.", kind="translate",
          lang="es", language="es"),
     "Vota temprano en la biblioteca de tu barrio.", True, None),
    ("language: the issue's mixed translation",
     task("Translate into Spanish: Vote early at your local library.", kind="translate",
          lang="es", language="es", required=[["vota", "votar"], "biblioteca"]),
     "El votado en la ciudad earlier at your local library es el que está aprelo", False,
     "required"),
    ("count: five subject lines asked, an email body returned",
     task("Write five subject lines for the town hall email.", kind="subject_lines",
          count=5, max_item_words=12),
     "Dear friends,\nWe are holding a town hall next week on housing and we would love to "
     "see you there with your neighbours and family.\nBest,\nThe campaign", False, "count"),
    ("count: five subject lines",
     task("Write five subject lines.", kind="subject_lines", count=5, max_item_words=12),
     "Here are five:\n1. Join us Thursday\n2. Your questions, answered\n3. Housing town hall\n"
     "4. Save your seat\n5. Bring a neighbour", True, None),
    ("max_item_words: one long line among the items",
     task("Write two subject lines.", kind="subject_lines", count=2, max_item_words=5),
     "Join us\nWe are holding a town hall next week and you are invited", False,
     "max_item_words"),
    ("count: hashtags by pattern",
     task("Three hashtags.", kind="hashtags", count=3, item_pattern=r"#\w+"),
     "#VoteEarly #GOTV #Ward5", True, None),
    ("count: hashtags short of the number",
     task("Three hashtags.", kind="hashtags", count=3, item_pattern=r"#\w+"),
     "#VoteEarly and #GOTV", False, "count"),
    ("not_echo: the headline handed back unchanged",
     task("Shorten: County Opens New Early Voting Site", kind="shorten",
          input="County Opens New Early Voting Site", not_echo=True),
     "County Opens New Early Voting Site", False, "not_echo"),
    ("not_echo: a real shortening",
     task("Shorten: County Opens New Early Voting Site", kind="shorten",
          input="County Opens New Early Voting Site", not_echo=True),
     "New Early Voting Site", True, None),
    ("max_words", task(max_words=3), "one two three four", False, "length"),
    ("min_words", task(min_words=3), "one two", False, "length"),
    ("max_chars", task(max_chars=10), "far more than ten characters", False, "length"),
    ("within length", task(max_words=5, min_words=2, max_chars=40), "short and sweet", True, None),
    ("required: an alternative present", task(required=[["9 a.m.", "9am"]]), "At 9am.", True, None),
    ("required: missing", task(required=["Elm Street"]), "At the office.", False, "required"),
    ("required: case and accents ignored", task(required=["votación"]), "VOTACION hoy", True, None),
    ("required exact: accents count", task(required=["votación"], exact=True), "votacion", False,
     "required"),
    ("forbidden present", task(forbidden=["libary"]), "at the libary", False, "forbidden"),
    ("forbidden only as a whole word", task(forbidden=["we"]), "Wednesday", True, None),
    ("edit_ratio: the correction only",
     task(reference="Thank you for volunteering at the library.", max_edit_ratio=0.1),
     "Corrected text:\nThank you for volunteering at the library.", True, None),
    ("edit_ratio: rewritten instead of corrected",
     task(reference="Thank you for volunteering at the library.", max_edit_ratio=0.1),
     "We are grateful you gave your time at our library branch.", False, "edit_ratio"),
    ("similarity: close to the reference",
     task(reference="Vote early at your neighborhood library.", min_similarity=0.5),
     "Vote early at the library in your neighborhood.", True, None),
    ("similarity: unrelated", task(reference="Vote early at your library.", min_similarity=0.5),
     "Thank you for your donation.", False, "similarity"),
    ("label: expected", task(kind="sentiment", expected_label="negative",
                             labels=["positive", "negative", "neutral"]),
     "Negative: the voter is angry.", True, None),
    ("label: another label first", task(kind="sentiment", expected_label="negative",
                                        labels=["positive", "negative", "neutral"]),
     "Positive, not negative.", False, "label"),
    ("label: Spanish ending", task(kind="sentiment", lang="es", expected_label="positivo",
                                   labels=["positivo", "negativo", "neutro"]),
     "Positiva.", True, None),
    ("number: the issue's 'jobs' count", task(kind="count", expected_number=5), "10 times", False,
     "number"),
    ("number: as a word", task(kind="count", expected_number=3), "It appears three times.", True,
     None),
    ("empty answer", task(max_words=10), "   ", False, "answered"),
    (
        "grounded: a weekday that starts a sentence",
        task("Summarize: Tuesday phone bank, 9 callers.", kind="summarise", grounded=True),
        "Monday night phone bank: 9 callers.",
        False,
        "grounded",
    ),
    (
        "copied: the rewrite hands the input back",
        task(
            "Rewrite in plain language: Individuals who have relocated must update registration.",
            input="Individuals who have relocated must update registration.",
            max_copied_share=0.6,
        ),
        "Please note: individuals who have relocated must update registration.",
        False,
        "copied",
    ),
    (
        "copied: a real rewrite",
        task(
            "Rewrite in plain language: Individuals who have relocated must update registration.",
            input="Individuals who have relocated must update registration.",
            max_copied_share=0.6,
        ),
        "Moved? Update your voter registration.",
        True,
        None,
    ),
    (
        "degenerate: a line said three times",
        task(max_words=50),
        "Vote early.\nVote early.\nVote early.",
        False,
        "degenerate",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("task_", "answer", "usable", "failed"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_checks(task_: Task, answer: str, usable: bool, failed: str | None) -> None:
    result = grade(task_, answer)
    assert result.usable is usable, result.failed
    if failed is not None:
        assert failed in result.failed_names
        assert all(f.reason for f in result.failed)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Vote early at your local library.", "en"),
        ("Vota temprano en tu biblioteca.", "es"),
        ("¡Tu voto, tu voz!", "es"),
        ("#VoteEarly #GOTV", None),
        ("El votado en la ciudad earlier at your local library and the voters of the town", None),
    ],
)
def test_language_guess(text: str, language: str | None) -> None:
    assert guess_language(text).language == language


def test_measures() -> None:
    assert body('Here is the corrected text:\n"At the library."') == "At the library."
    assert items("1. One\n- Two\n\n* Three") == ["One", "Two", "Three"]
    assert numbers("9,000 voters at 6:30 on the 20th, 4.200 llamadas") == [
        "9000", "6", "30", "20", "4200",
    ]  # fmt: skip
    assert capitalised_names("Dear Sarah, meet Dr. Ruiz. Then Priya.") == ["Sarah", "Ruiz", "Priya"]
    assert edit_ratio("abc", "abc") == 0.0 and edit_ratio("abc", "xyz") == 1.0
    assert first_number("In 2 weeks") == 2 and first_number("none") is None
    assert first_label("neutral tone", ["positive", "neutral"]) == "neutral"


def test_a_check_needs_its_reference() -> None:
    with pytest.raises(ValueError, match="need a reference"):
        task(max_edit_ratio=0.1)
    with pytest.raises(ValueError, match="at least one check"):
        task(reference="only an example")

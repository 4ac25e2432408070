"""What the routine checks read off a text: its body, words, items, numbers, names, and
how far it is from another text.

Pure functions over strings. The rules are lenient about wrapping a strategist would
strip without thinking (a "Here is the corrected text:" line, quotes around the whole
answer, bullets and numbering) and strict about content, because the question the
checks answer is "could this be pasted as is, or after deleting a preamble?".
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from difflib import SequenceMatcher

_PREAMBLE_MAX_WORDS = 12
"""A first line ending in ':' and at most this long is a preamble ("Here are five subject
lines for the town hall email:"), not content."""
_WRAPPING_QUOTES = "\"'“”‘’«»"
_BULLET = re.compile(r"^\s*(?:[-*•–·]|\(?\d{1,2}[.):]|\(?[a-zA-Z][.)])\s+")
_WORD = re.compile(r"\d+(?:[.,:]\d+)*|[\w'’#@-]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"(?<=\d)[.,](?=\d{3}\b)")
_PLACEHOLDER = re.compile(r"\[[^\]]*\]")
_SENTENCE_OPENERS = set('.!?:;¿¡"“”«(*#•-–\n[')
_NAME_TOKEN = re.compile(r"[\w’'-]+")
TITLES = frozenset(
    {"mr", "mrs", "ms", "dr", "sr", "sra", "srta", "st", "i", "i'm", "i've", "i'll", "i'd"}
)
"""Capitalised words that are never an invented name."""
_CALENDAR_WORDS = (
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "june july august september october november december lunes martes miercoles jueves "
    "viernes sabado domingo"
)
CALENDAR = frozenset(_CALENDAR_WORDS.split())
"""Weekdays and months are checked even where they start a sentence ("Monday night phone
bank" from a tally dated Tuesday). Not "May", a sentence's first word far more often."""
REPEATED_LINE_MIN = 3
"""A non-empty line seen this often is a loop, not a list."""
REPEATED_PHRASE_WORDS = 6
REPEATED_PHRASE_MIN = 3
"""The same six-word phrase three times: the model is looping inside a paragraph."""
NUMBER_LIST_MIN = 5
NUMBER_LIST_SHARE = 0.5
"""At least five numbers making up half the words: Gemma's failure mode on plain prompts."""
_NUMBER_WORD = re.compile(r"^[\d.,:%$]+$")


def fold(text: str) -> str:
    """Lower case without accents, NFKC, curly quotes straightened: for lenient matching."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).lower())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return text.replace("’", "'").replace("‘", "'")


def body(answer: str) -> str:
    """The answer without a short preamble line ending in ':' and without quotes that wrap
    the whole of it."""
    text = answer.strip()
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if (
        len(lines) > 1
        and first.endswith(":")
        and len(first.split()) <= _PREAMBLE_MAX_WORDS
        and any(line.strip() for line in lines[1:])
    ):
        text = "\n".join(lines[1:]).strip()
    if len(text) >= 2 and text[0] in _WRAPPING_QUOTES and text[-1] in _WRAPPING_QUOTES:
        inner = text[1:-1]
        if not any(quote in inner for quote in '"“”'):
            text = inner.strip()
    return text


def words(text: str) -> list[str]:
    """The words of a text (hashtags, handles and hyphenated words count as one)."""
    return [word for word in _WORD.findall(text) if any(char.isalnum() for char in word)]


def items(text: str) -> list[str]:
    """The non-empty lines of a text, with bullets, numbering and wrapping quotes removed."""
    found = []
    for line in text.splitlines():
        item = _BULLET.sub("", line).strip().strip(_WRAPPING_QUOTES).strip()
        if item:
            found.append(item)
    return found


def numbers(text: str) -> list[str]:
    """The numbers written with digits, thousands separators removed ("9,000" -> "9000").

    Times and dates split into their parts ("6:30" -> "6", "30"; "3/14" -> "3", "14"),
    and ordinals keep their digits ("20th" -> "20"): each part must be grounded."""
    return [_THOUSANDS.sub("", number) for number in _NUMBER.findall(text)]


def capitalised_names(text: str) -> list[str]:
    """Words that start with a capital and do not start a sentence, a line or an item
    (weekdays and months wherever they are): the candidates for a name, a place or a
    date. Bracketed placeholders ("[Your Name]") are ignored: they invent nothing."""
    text = _PLACEHOLDER.sub(" ", text)
    found = []
    for match in _NAME_TOKEN.finditer(text):
        token = match.group()
        if not token[0].isupper():
            continue
        before = text[: match.start()].rstrip(" \t")
        starts = not before or (before[-1] in _SENTENCE_OPENERS and not _after_title(before))
        if starts and fold(token) not in CALENDAR:
            continue
        found.append(re.sub(r"['’](?:s)?$", "", token))
    return [name for name in found if fold(name) not in TITLES]


def _after_title(before: str) -> bool:
    """`before` ends with an abbreviated title ("Dr.", "Sra."): no sentence ends there."""
    last = before[:-1].split()[-1:] if before.endswith(".") else []
    return bool(last) and fold(last[0]) in TITLES


def vocabulary(text: str) -> set[str]:
    """Folded words of a text, hyphenated words also in their parts: what grounding
    looks names up in."""
    found = set()
    for token in _NAME_TOKEN.findall(fold(text)):
        token = re.sub(r"'(?:s)?$", "", token)
        found.add(token)
        found.update(part for part in token.split("-") if part)
    return found


def not_in_source(source: str, text: str, *, names: bool = True) -> list[str]:
    """The numbers (and, with `names`, capitalised names) of `text` that `source` does not
    hold, each once, in order: the facts an answer invented. List numbering is not a fact,
    and a hyphenated name passes when each of its parts is in the source."""
    listed = "\n".join(items(text))
    known_numbers = set(numbers(source))
    invented = [n for n in numbers(listed) if n not in known_numbers and n.strip("0")]
    if names:
        known_words = vocabulary(source)
        invented += [
            name
            for name in capitalised_names(listed)
            if fold(name) not in known_words
            and not all(part in known_words for part in fold(name).split("-") if part)
        ]
    return list(dict.fromkeys(invented))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions of characters)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def edit_ratio(a: str, b: str) -> float:
    """Edit distance over the longer text's length, whitespace runs counted as one
    space: 0 for identical texts, 1 for nothing in common. Case and accents count."""
    a, b = " ".join(a.split()), " ".join(b.split())
    longest = max(len(a), len(b))
    return edit_distance(a, b) / longest if longest else 0.0


def word_f1(answer: str, reference: str) -> float:
    """Overlap of folded words (ROUGE-1 F1): 1 for the same words in any order."""
    got, want = Counter(words(fold(answer))), Counter(words(fold(reference)))
    common = sum((got & want).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def contains_phrase(text: str, phrase: str, *, exact: bool = False) -> bool:
    """`phrase` in `text` as whole words; folded (case and accents ignored) unless `exact`."""
    if not exact:
        text, phrase = fold(text), fold(phrase)
    phrase = " ".join(phrase.split())
    text = " ".join(text.split())
    if not phrase:
        return False
    start = r"(?<![\w#@])" if phrase[0].isalnum() or phrase[0] in "#@" else ""
    end = r"(?!\w)" if phrase[-1].isalnum() else ""
    return re.search(start + re.escape(phrase) + end, text) is not None


def copied_share(answer: str, source: str) -> float:
    """The longest run of consecutive words the answer shares with `source`, as a share
    of the answer's words (folded): 1 when the answer is a stretch of the source."""
    got, have = words(fold(answer)), words(fold(source))
    if not got or not have:
        return 0.0
    longest = SequenceMatcher(None, got, have, autojunk=False).find_longest_match()
    return longest.size / len(got)


def degenerate_reason(text: str) -> str | None:
    """Why an answer is unusable whatever the task ("empty", "repeated lines", ...), or None."""
    if not text.strip():
        return "empty"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and Counter(lines).most_common(1)[0][1] >= REPEATED_LINE_MIN:
        return "repeated lines"
    words = text.lower().split()
    phrases = Counter(
        tuple(words[i : i + REPEATED_PHRASE_WORDS])
        for i in range(len(words) - REPEATED_PHRASE_WORDS + 1)
    )
    if phrases and phrases.most_common(1)[0][1] >= REPEATED_PHRASE_MIN:
        return "repeated phrase"
    numbers = sum(1 for word in words if _NUMBER_WORD.match(word.strip("().-")))
    if numbers >= NUMBER_LIST_MIN and numbers >= NUMBER_LIST_SHARE * len(words):
        return "number list"
    return None

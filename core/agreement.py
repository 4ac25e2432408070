"""How much two answers agree: cosine similarity of their content-word counts.

A cheap, explainable stand-in for semantic agreement; a later version can swap
in embeddings behind the same function.
"""

from __future__ import annotations

import math
import re
from collections import Counter

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "we",
        "you",
        "they",
        "he",
        "she",
        "i",
        "our",
        "your",
        "their",
        "his",
        "her",
        "not",
        "no",
        "so",
        "than",
        "then",
        "there",
        "here",
        "can",
        "could",
        "should",
        "would",
        "will",
        "may",
        "might",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "into",
        "about",
    ]
)
MIN_WORD_CHARS = 3


def content_words(text: str) -> Counter[str]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return Counter(w for w in words if len(w) >= MIN_WORD_CHARS and w not in STOPWORDS)


def agreement(first: str, second: str) -> float:
    """Cosine similarity in [0, 1]; 0 when either text has no content words."""
    a, b = content_words(first), content_words(second)
    if not a or not b:
        return 0.0
    dot = sum(count * b[word] for word, count in a.items())
    norm = math.sqrt(sum(c * c for c in a.values())) * math.sqrt(sum(c * c for c in b.values()))
    return max(0.0, min(1.0, dot / norm))

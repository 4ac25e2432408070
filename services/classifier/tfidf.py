"""TF-IDF over word and character n-grams, fitted at training time, applied with numpy.

Our own few lines rather than scikit-learn's vectoriser, so that the classifier needs no
scikit-learn at run time and training and inference share one definition of a term.
Word terms are lower-cased unigrams and bigrams of 2+ character words; character terms
are 2-5 character n-grams inside each space-padded word (they carry typos, inflections
and Spanish/English stems that whole words miss). Each block is weighted with a smoothed
IDF and a sublinear term frequency, then L2-normalised on its own.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WORD = re.compile(r"(?u)\b\w\w+\b")
CHAR_NGRAM_SIZES = range(2, 6)
HEAD_CHARS = 3000
TAIL_CHARS = 1000
"""Only the first 3000 and last 1000 characters are read: the instruction sits at one end
of a pasted document, and the work stays bounded on a 64 KB input."""


def bounded(text: str) -> str:
    """The part of `text` the features read (all of it when short)."""
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def word_terms(text: str) -> list[str]:
    """Unigrams and bigrams of the lower-cased words."""
    words = WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def char_terms(text: str) -> list[str]:
    """2-5 character n-grams inside each word padded with a space on both sides."""
    terms: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for size in CHAR_NGRAM_SIZES:
            last = max(len(padded) - size, 0)
            terms.extend(padded[i : i + size] for i in range(last + 1))
    return terms


@dataclass(frozen=True)
class SparseVector:
    """Column indices (ascending) and their values; every other column is zero."""

    indices: np.ndarray
    values: np.ndarray

    def dense(self, size: int) -> np.ndarray:
        vector = np.zeros(size, dtype=np.float64)
        vector[self.indices] = self.values
        return vector


class TfidfBlock:
    """One vocabulary (term -> column) with its IDF weights."""

    def __init__(self, *, kind: str, terms: Sequence[str], idf: Sequence[float]) -> None:
        if kind not in ("word", "char"):
            raise ValueError(f"unknown term kind {kind!r}")
        if len(terms) != len(idf):
            raise ValueError(f"{len(terms)} {kind} terms but {len(idf)} idf weights")
        self.kind = kind
        self.terms = tuple(terms)
        self.idf = np.asarray(idf, dtype=np.float64)
        self._index = {term: i for i, term in enumerate(self.terms)}

    @property
    def size(self) -> int:
        return len(self.terms)

    def terms_of(self, text: str) -> list[str]:
        return word_terms(text) if self.kind == "word" else char_terms(text)

    def transform(self, text: str) -> SparseVector:
        """The L2-normalised TF-IDF weights of the terms of `text` that are in the vocabulary.

        Sparse on purpose: a text has a few hundred of the thousands of terms, and numpy
        over the present ones only stays far below a millisecond.
        """
        index = self._index
        columns: list[int] = []
        counts: list[int] = []
        for term, count in Counter(self.terms_of(text)).items():
            column = index.get(term)
            if column is not None:
                columns.append(column)
                counts.append(count)
        order = np.argsort(np.asarray(columns, dtype=np.int64), kind="stable")
        indices = np.asarray(columns, dtype=np.int64)[order]
        values = (1.0 + np.log(np.asarray(counts, dtype=np.float64)[order])) * self.idf[indices]
        norm = math.sqrt(float(np.sum(values * values)))
        return SparseVector(indices, values / norm if norm > 0 else values)

    @classmethod
    def fit(cls, kind: str, texts: Sequence[str], min_df: int) -> TfidfBlock:
        """Terms seen in at least `min_df` texts, sorted, with IDF ln((1+n)/(1+df)) + 1."""
        extract = word_terms if kind == "word" else char_terms
        document_frequency: Counter[str] = Counter()
        for text in texts:
            document_frequency.update(set(extract(text)))
        terms = sorted(t for t, df in document_frequency.items() if df >= min_df)
        n = len(texts)
        idf = [math.log((1 + n) / (1 + document_frequency[t])) + 1.0 for t in terms]
        return cls(kind=kind, terms=terms, idf=idf)


def transform_all(blocks: Sequence[TfidfBlock], text: str) -> SparseVector:
    """All blocks' weights for `text`, the columns of each block after the previous ones."""
    short = bounded(text)
    indices, values, offset = [], [], 0
    for block in blocks:
        vector = block.transform(short)
        indices.append(vector.indices + offset)
        values.append(vector.values)
        offset += block.size
    return SparseVector(np.concatenate(indices), np.concatenate(values))

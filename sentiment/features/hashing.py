r"""Hash every n-gram of a batch of texts with numpy, no Python loop per n-gram.

A batch becomes one array of Unicode code points. The polynomial hash of any span
``[s, e)`` is ``BASE**(e-1) * (G[e] - G[s])`` modulo 2**64, where ``G`` is the
prefix sum of ``code * BASE**-k`` (``BASE`` is odd, so it has an inverse modulo
2**64, and uint64 arithmetic wraps): every n-gram of every text costs a few
vectorised operations. Word n-grams combine their tokens' hashes the same way.
``char_ngram_hash`` and ``word_ngram_hash`` compute one n-gram's hash in plain
Python: the reference the tests and the explanations use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

U64 = np.uint64
BASE = 0x100000001B3  # odd, so invertible modulo 2**64
TOKEN_BASE = 0x9E3779B97F4A7C15  # combines token hashes into word n-gram hashes
ORDER_SALT = 0xD6E8FEB86659FD93  # makes the n of an n-gram part of its hash
MASK64 = (1 << 64) - 1
WHITESPACE_RUNS = re.compile(r"\s\s+")  # scikit-learn's char analyzer collapses these
ASCII_WORD = np.array([chr(c).isalnum() or c == ord("_") for c in range(128)])


def inverse_mod_2_64(value: int) -> int:
    """The inverse of an odd number modulo 2**64 (Newton's iteration)."""
    inverse = value
    for _ in range(6):
        inverse = (inverse * (2 - value * inverse)) & MASK64
    return inverse


BASE_INVERSE = inverse_mod_2_64(BASE)


class PowerTable:
    """``BASE**k`` and ``BASE**-k`` modulo 2**64 for k < len, grown on demand."""

    @staticmethod
    def geometric(ratio: int, size: int) -> NDArray[np.uint64]:
        """``ratio**k`` modulo 2**64 for k in ``range(size)`` (uint64 wraps)."""
        steps = np.full(size, ratio, dtype=U64)
        steps[0] = 1
        return np.cumprod(steps, dtype=U64)

    def __init__(self) -> None:
        # One attribute, replaced whole: the model runs on several threads at
        # once (BentoML's, the event loop's, the shadow's, file jobs'), and a
        # reader must never pair new powers with old, shorter inverses.
        self.tables = (np.ones(1, dtype=U64), np.ones(1, dtype=U64))

    def upto(self, length: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
        """Tables with at least ``length`` entries."""
        tables = self.tables
        if len(tables[0]) < length:
            size = max(length, 2 * len(tables[0]), 4096)
            tables = (self.geometric(BASE, size), self.geometric(BASE_INVERSE, size))
            self.tables = tables
        return tables


POWERS = PowerTable()


def mix_one(value: int, order: int) -> int:
    """Salt and scramble one Python int (the reference for tests and explanations)."""
    x = (value + order * ORDER_SALT) & MASK64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def polynomial_hash(text: str) -> int:
    """The polynomial hash of a string's code points, as the batch code computes it."""
    value = 0
    for char in text:
        value = (value * BASE + ord(char)) & MASK64
    return value


class CodePoints:
    """A batch of documents as one array of code points, with document bounds."""

    def __init__(self, docs: Sequence[str]) -> None:
        joined = "".join(docs)
        self.codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        self.ends = np.cumsum(lengths)
        self.starts = self.ends - lengths
        self.doc_of = np.repeat(np.arange(len(docs)), lengths)
        powers, inverses = POWERS.upto(len(self.codes) + 1)
        self.powers = powers
        # uint64 array arithmetic wraps silently (only numpy scalars warn), which
        # is the modulo 2**64 the hashes want: no errstate needed on arrays.
        scaled = self.codes.astype(U64) * inverses[: len(self.codes)]
        self.prefix = np.zeros(len(scaled) + 1, dtype=U64)
        np.cumsum(scaled, out=self.prefix[1:])

    def span_hashes(
        self, starts: NDArray[np.int64], ends: NDArray[np.int64]
    ) -> NDArray[np.uint64]:
        """Polynomial hashes of the code points in ``[starts, ends)``."""
        hashes: NDArray[np.uint64] = self.powers[ends - 1] * (
            self.prefix[ends] - self.prefix[starts]
        )
        return hashes


def salted(hashes: NDArray[np.uint64], order: int) -> NDArray[np.uint64]:
    """``hashes`` plus the n-gram order's salt: :func:`mix_one`'s first step."""
    return hashes + U64((order * ORDER_SALT) & MASK64)


def scramble(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """:func:`mix_one`'s last steps on salted hashes, in place (one pass for all n)."""
    x ^= x >> U64(30)
    x *= U64(0xBF58476D1CE4E5B9)
    x ^= x >> U64(27)
    x *= U64(0x94D049BB133111EB)
    x ^= x >> U64(31)
    return x


def char_ngrams_in(
    batch: CodePoints, ngram_range: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Document index and hash of every character n-gram of a batch's documents.

    Every n's salted hashes are scrambled in one pass: at batch 1 the number of
    numpy calls, not their size, is the cost.
    """
    rows, hashes = [], []
    positions = np.arange(len(batch.codes), dtype=np.int64)
    room = batch.ends[batch.doc_of] - positions  # characters left in the document
    for n in range(ngram_range[0], ngram_range[1] + 1):
        starts = positions[room >= n]
        rows.append(batch.doc_of[starts])
        hashes.append(salted(batch.span_hashes(starts, starts + n), n))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=U64)
    return np.concatenate(rows), scramble(np.concatenate(hashes))


def char_ngrams(
    docs: Sequence[str], ngram_range: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Document index and 64-bit hash of every character n-gram of every document."""
    with np.errstate(over="ignore"):
        return char_ngrams_in(CodePoints(docs), ngram_range)


def word_mask(codes: NDArray[np.uint32]) -> NDArray[np.bool_]:
    r"""Which code points are word characters (``\w`` in Python's Unicode regex)."""
    if not len(codes) or codes.max() < 128:  # the common case: one lookup
        return ASCII_WORD[codes]
    mask = np.zeros(len(codes), dtype=bool)
    ascii_ = codes < 128
    mask[ascii_] = ASCII_WORD[codes[ascii_]]
    others = codes[~ascii_]
    unique, inverse = np.unique(others, return_inverse=True)
    is_word = np.array([chr(c).isalnum() for c in unique.tolist()], dtype=bool)
    mask[~ascii_] = is_word[inverse]
    return mask


@dataclass
class Tokens:
    """A batch's word tokens: each one's document and polynomial hash, in order."""

    doc: NDArray[np.int64]
    hashes: NDArray[np.uint64]


def tokens_in(batch: CodePoints) -> Tokens:
    """The word tokens (runs of word characters) of a batch's documents."""
    mask = word_mask(batch.codes)
    if not len(mask):
        return Tokens(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=U64))
    # A token starts where a word character follows a non-word one or a document
    # start, and ends where one precedes a non-word character or a document end.
    starts_ = mask.copy()
    starts_[1:] &= ~mask[:-1]
    starts_[batch.starts[batch.starts < len(mask)]] = mask[
        batch.starts[batch.starts < len(mask)]
    ]
    ends_ = mask.copy()
    ends_[:-1] &= ~mask[1:]
    last = batch.ends[batch.ends > 0] - 1
    ends_[last] = mask[last]
    token_starts = np.flatnonzero(starts_)
    token_ends = np.flatnonzero(ends_) + 1
    return Tokens(
        batch.doc_of[token_starts], batch.span_hashes(token_starts, token_ends)
    )


def word_ngrams_of(
    tokens: Tokens, ngram_range: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Document index and hash of every word n-gram, the unigrams first (in order)."""
    rows, hashes = [], []
    combined = tokens.hashes
    same_doc = np.ones(len(combined), dtype=bool)
    for n in range(1, ngram_range[1] + 1):
        if n > 1:
            combined = combined[:-1] * U64(TOKEN_BASE) + tokens.hashes[n - 1 :]
            same_doc = same_doc[:-1] & (tokens.doc[n - 1 :] == tokens.doc[: -(n - 1)])
        if n >= ngram_range[0]:
            if n == 1:
                rows.append(tokens.doc)
                hashes.append(salted(combined, 1))
            else:
                rows.append(tokens.doc[: len(combined)][same_doc])
                hashes.append(salted(combined[same_doc], n))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=U64)
    return np.concatenate(rows), scramble(np.concatenate(hashes))


def word_ngrams(
    docs: Sequence[str], ngram_range: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Document index and 64-bit hash of every word n-gram of every document."""
    with np.errstate(over="ignore"):
        return word_ngrams_of(tokens_in(CodePoints(docs)), ngram_range)


def word_ngram_hash(tokens: Sequence[str]) -> int:
    """:func:`word_ngrams`'s hash of one n-gram given as its tokens (reference)."""
    value = 0
    for token in tokens:
        value = (value * TOKEN_BASE + polynomial_hash(token)) & MASK64
    return mix_one(value, len(tokens))


def char_ngram_hash(ngram: str) -> int:
    """:func:`char_ngrams`'s hash of one character n-gram (reference)."""
    return mix_one(polynomial_hash(ngram), len(ngram))

r"""Fast TF-IDF text features: n-grams hashed with numpy over a whole batch at once.

scikit-learn's ``TfidfVectorizer`` builds every n-gram as a Python string and looks
it up in a dict, about 300 us per review for character 3-5-grams. Here a batch is
one array of Unicode code points; every n-gram's hash comes from prefix sums of
that array (a polynomial hash: a few vectorised operations per n, no Python loop
per n-gram), and the hashes are bucketed into ``n_features`` columns, as
``HashingVectorizer`` does. Fitting learns one IDF weight per bucket; buckets seen
in fewer than ``min_df`` training documents (and buckets never seen) get weight 0,
so unknown n-grams count for nothing, as with a vocabulary.

The n-grams are exactly scikit-learn's: lower-cased text; for ``analyzer="char"``
whitespace runs collapsed to one space, then every n consecutive characters; for
``analyzer="word"`` tokens are runs of word characters (``(?u)\b\w+\b``) and
n-grams are n consecutive tokens. ``tests/unit/test_features.py`` checks the counts
and TF-IDF values against scikit-learn's vectorizers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

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
        self.powers = np.ones(1, dtype=U64)
        self.inverses = np.ones(1, dtype=U64)

    def upto(self, length: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
        """Tables with at least ``length`` entries."""
        if len(self.powers) < length:
            size = max(length, 2 * len(self.powers), 4096)
            self.powers = self.geometric(BASE, size)
            self.inverses = self.geometric(BASE_INVERSE, size)
        return self.powers, self.inverses


POWERS = PowerTable()


def mix(hashes: NDArray[np.uint64], order: int) -> NDArray[np.uint64]:
    """Scramble polynomial hashes (with the n-gram order) into uniform 64-bit values."""
    with np.errstate(over="ignore"):
        x = hashes + U64((order * ORDER_SALT) & MASK64)
        x ^= x >> U64(30)
        x *= U64(0xBF58476D1CE4E5B9)
        x ^= x >> U64(27)
        x *= U64(0x94D049BB133111EB)
        x ^= x >> U64(31)
    return x


def mix_one(value: int, order: int) -> int:
    """:func:`mix` for one Python int (the reference for tests and explanations)."""
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
        with np.errstate(over="ignore"):
            scaled = self.codes.astype(U64) * inverses[: len(self.codes)]
            self.prefix = np.concatenate([np.zeros(1, dtype=U64), np.cumsum(scaled)])

    def span_hashes(
        self, starts: NDArray[np.int64], ends: NDArray[np.int64]
    ) -> NDArray[np.uint64]:
        """Polynomial hashes of the code points in ``[starts, ends)``."""
        with np.errstate(over="ignore"):
            hashes: NDArray[np.uint64] = self.powers[ends - 1] * (
                self.prefix[ends] - self.prefix[starts]
            )
        return hashes


def char_ngrams(
    docs: Sequence[str], ngram_range: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Document index and 64-bit hash of every character n-gram of every document."""
    batch = CodePoints(docs)
    rows, hashes = [], []
    positions = np.arange(len(batch.codes), dtype=np.int64)
    for n in range(ngram_range[0], ngram_range[1] + 1):
        fits = positions + n <= batch.ends[batch.doc_of]
        starts = positions[fits]
        rows.append(batch.doc_of[fits])
        hashes.append(mix(batch.span_hashes(starts, starts + n), n))
    return np.concatenate(rows), np.concatenate(hashes)


def word_mask(codes: NDArray[np.uint32]) -> NDArray[np.bool_]:
    r"""Which code points are word characters (``\w`` in Python's Unicode regex)."""
    mask = np.zeros(len(codes), dtype=bool)
    ascii_ = codes < 128
    mask[ascii_] = ASCII_WORD[codes[ascii_]]
    if not ascii_.all():
        others = codes[~ascii_]
        unique, inverse = np.unique(others, return_inverse=True)
        is_word = np.array([chr(c).isalnum() for c in unique.tolist()], dtype=bool)
        mask[~ascii_] = is_word[inverse]
    return mask


def word_ngrams(
    docs: Sequence[str], ngram_range: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
    """Document index and 64-bit hash of every word n-gram of every document."""
    batch = CodePoints(docs)
    mask = word_mask(batch.codes)
    positions = np.arange(len(batch.codes), dtype=np.int64)
    first_of_doc = np.zeros(len(batch.codes), dtype=bool)
    first_of_doc[batch.starts[batch.starts < len(batch.codes)]] = True
    previous_word = np.r_[False, mask[:-1]] & ~first_of_doc
    next_word = np.r_[mask[1:], False]
    next_word[batch.ends[batch.ends > 0] - 1] = False
    token_starts = positions[mask & ~previous_word]
    token_ends = positions[mask & ~next_word] + 1
    tokens = batch.span_hashes(token_starts, token_ends)
    token_doc = batch.doc_of[token_starts]
    rows, hashes = [], []
    combined = tokens.copy()
    same_doc = np.ones(len(tokens), dtype=bool)
    for n in range(1, ngram_range[1] + 1):
        if n > 1:
            with np.errstate(over="ignore"):
                combined = combined[:-1] * U64(TOKEN_BASE) + tokens[n - 1 :]
            same_doc = same_doc[:-1] & (token_doc[n - 1 :] == token_doc[: -(n - 1)])
        if n >= ngram_range[0]:
            rows.append(token_doc[: len(combined)][same_doc])
            hashes.append(mix(combined[same_doc], n))
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=U64)
    return np.concatenate(rows), np.concatenate(hashes)


def word_ngram_hash(tokens: Sequence[str]) -> int:
    """:func:`word_ngrams`'s hash of one n-gram given as its tokens (reference)."""
    value = 0
    for token in tokens:
        value = (value * TOKEN_BASE + polynomial_hash(token)) & MASK64
    return mix_one(value, len(tokens))


def char_ngram_hash(ngram: str) -> int:
    """:func:`char_ngrams`'s hash of one character n-gram (reference)."""
    return mix_one(polynomial_hash(ngram), len(ngram))


@dataclass
class SparseRows:
    """Sparse entries of a batch: row, column and value of each, sorted by row."""

    rows: NDArray[np.int64]
    columns: NDArray[np.int64]
    values: NDArray[Any]
    n_rows: int


class HashingTfidf(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF over hashed word or character n-grams, computed for a whole batch at once.

    Args:
        analyzer: ``"char"`` or ``"word"``.
        ngram_range: smallest and largest n.
        n_features: number of hash buckets (columns), a power of two.
        min_df: buckets seen in fewer training documents get IDF weight 0.
        sublinear_tf: use ``1 + log(count)`` instead of the count.
        dtype: the output's float type.
    """

    def __init__(
        self,
        analyzer: str = "char",
        ngram_range: tuple[int, int] = (3, 5),
        n_features: int = 1 << 20,
        min_df: int = 1,
        sublinear_tf: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype

    def prepare(self, texts: Iterable[str]) -> list[str]:
        """Lower-case (and for characters, collapse whitespace) like scikit-learn."""
        if self.analyzer == "char":
            return [WHITESPACE_RUNS.sub(" ", text.lower()) for text in texts]
        return [text.lower() for text in texts]

    def ngram_hashes(
        self, texts: Iterable[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64], int]:
        """Row, 64-bit hash of each n-gram occurrence, and the number of rows."""
        docs = self.prepare(texts)
        if self.analyzer == "char":
            rows, hashes = char_ngrams(docs, self.ngram_range)
        elif self.analyzer == "word":
            rows, hashes = word_ngrams(docs, self.ngram_range)
        else:
            raise ValueError(
                f"analyzer must be 'char' or 'word', got {self.analyzer!r}"
            )
        return rows, hashes, len(docs)

    def bucket(self, hashes: NDArray[np.uint64]) -> NDArray[np.int64]:
        """The column of each 64-bit hash (its top bits)."""
        bits = int(self.n_features).bit_length() - 1
        if 1 << bits != self.n_features:
            raise ValueError(f"n_features must be a power of 2, got {self.n_features}")
        return (hashes >> U64(64 - bits)).astype(np.int64)

    def counts(self, texts: Iterable[str]) -> SparseRows:
        """Raw n-gram counts per document and bucket, sorted by row then column."""
        rows, hashes, n_docs = self.ngram_hashes(texts)
        bits = int(self.n_features).bit_length() - 1
        keys = (rows << bits) | self.bucket(hashes)
        keys.sort()
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(keys))).astype(self.dtype)
        unique = keys[starts]
        mask = (1 << bits) - 1
        return SparseRows(unique >> bits, unique & mask, counts, n_docs)

    def fit(self, X: Iterable[str], y: Any = None) -> HashingTfidf:
        """Learn each bucket's IDF weight from the training texts."""
        counts = self.counts(X)
        df = np.bincount(counts.columns, minlength=self.n_features)
        idf = np.log((1.0 + counts.n_rows) / (1.0 + df)) + 1.0
        idf[df < max(self.min_df, 1)] = 0.0
        self.idf_ = idf.astype(self.dtype)
        self.n_features_out_ = self.n_features
        if self.analyzer == "word":
            self.seen_hashes_ = np.unique(self.ngram_hashes(X)[1])
        return self

    def known_counts(self, texts: list[str]) -> NDArray[np.int64]:
        """How many of each text's word n-grams were seen in training, exactly.

        Compares full 64-bit hashes, not buckets: a bucket is shared by several
        n-grams (about a quarter of buckets hold a training n-gram), so a new word
        usually lands in a bucket with a weight. Word blocks only.
        """
        rows, hashes, n_docs = self.ngram_hashes(texts)
        seen = self.seen_hashes_
        position = np.minimum(np.searchsorted(seen, hashes), len(seen) - 1)
        known = seen[position] == hashes if len(seen) else np.zeros(len(hashes), bool)
        return np.bincount(rows, weights=known, minlength=n_docs).astype(np.int64)

    def tfidf(self, texts: Iterable[str]) -> SparseRows:
        """L2-normalised TF-IDF entries of each text, without building a matrix."""
        entries = self.counts(texts)
        values = entries.values
        if self.sublinear_tf:
            np.log(values, out=values)
            values += 1.0
        values *= self.idf_[entries.columns]
        norms = np.sqrt(
            np.bincount(entries.rows, weights=values * values, minlength=entries.n_rows)
        )
        norms[norms == 0] = 1.0
        values /= norms[entries.rows].astype(self.dtype)
        return entries

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        """L2-normalised TF-IDF rows, one per text, as a CSR matrix."""
        entries = self.tfidf(X)
        indptr = np.searchsorted(entries.rows, np.arange(entries.n_rows + 1))
        return sp.csr_matrix(
            (entries.values, entries.columns, indptr),
            shape=(entries.n_rows, self.n_features),
        )

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.str_]:
        """Bucket names, ``<analyzer>:<index>``."""
        return np.array([f"{self.analyzer}:{i}" for i in range(self.n_features)])

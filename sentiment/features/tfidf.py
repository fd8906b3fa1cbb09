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
n-grams are n consecutive tokens. ``tests/unit/features/test_tfidf.py`` checks the
counts and TF-IDF values against scikit-learn's vectorizers.

The lexicon block, a subclass, is in :mod:`sentiment.features.lexicon`; its old
name here, ``sentiment.features.tfidf.LexiconScore``, which stored models' pickles
name, is bound by ``sentiment/features/__init__.py``: this module cannot import it
back without an import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from sentiment.features.hashing import U64, WHITESPACE_RUNS, char_ngrams, word_ngrams
from sentiment.features.scopes import segments


@dataclass
class SparseRows:
    """Sparse entries of a batch: row, column and value of each, sorted by row."""

    rows: NDArray[np.int64]
    columns: NDArray[np.int64]
    values: NDArray[Any]
    n_rows: int
    norm_values: NDArray[Any] | None = None  # what L2-normalises, when not values


class HashingTfidf(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """TF-IDF over hashed word or character n-grams, computed for a whole batch at once.

    Args:
        analyzer: ``"char"`` or ``"word"``.
        ngram_range: smallest and largest n.
        n_features: number of hash buckets (columns), a power of two.
        min_df: buckets seen in fewer training documents get IDF weight 0.
        sublinear_tf: use ``1 + log(count)`` instead of the count.
        dtype: the output's float type.
        negated_weight: what an n-gram in a negation's scope counts for
            (:mod:`sentiment.features.scopes`): 1 as any other, -1 the opposite,
            0 nothing.
        contrast_weight: what n-grams in a clause a contrast sets aside count for.
    """

    negated_weight = 1.0  # class defaults: models pickled before these existed
    contrast_weight = 1.0

    def __init__(
        self,
        analyzer: str = "char",
        ngram_range: tuple[int, int] = (3, 5),
        n_features: int = 1 << 20,
        min_df: int = 1,
        sublinear_tf: bool = True,
        dtype: Any = np.float32,
        negated_weight: float = 1.0,
        contrast_weight: float = 1.0,
    ) -> None:
        self.analyzer = analyzer
        self.ngram_range = ngram_range
        self.n_features = n_features
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype
        self.negated_weight = negated_weight
        self.contrast_weight = contrast_weight

    @property
    def scoped(self) -> bool:
        """Whether n-grams are weighted by negation scope and contrast."""
        return self.negated_weight != 1.0 or self.contrast_weight != 1.0

    def spans(self, doc: str) -> list[tuple[str, float, float]]:
        """A prepared text's spans: text, weight, and weight in the text's norm.

        A negated span counts ``negated_weight`` times what it would count
        unnegated, and that (its contrast share) is what it adds to the norm: a
        span that counts for nothing does not make the rest of the text louder.
        """
        if not self.scoped:
            return [(doc, 1.0, 1.0)]
        return [
            (
                text,
                weight if weight >= 0 else -weight * self.negated_weight,
                abs(weight),
            )
            for text, weight in segments(doc, self.contrast_weight)
        ]

    def prepare(self, texts: Iterable[str]) -> list[str]:
        """Lower-case (and for characters, collapse whitespace) like scikit-learn."""
        if self.analyzer == "char":
            return [WHITESPACE_RUNS.sub(" ", text.lower()) for text in texts]
        return [text.lower() for text in texts]

    def hash_docs(
        self, docs: list[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        """Row and 64-bit hash of each n-gram occurrence of prepared texts."""
        if self.analyzer == "char":
            return char_ngrams(docs, self.ngram_range)
        if self.analyzer == "word":
            return word_ngrams(docs, self.ngram_range)
        raise ValueError(f"analyzer must be 'char' or 'word', got {self.analyzer!r}")

    def ngram_hashes(
        self, texts: Iterable[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64], int]:
        """Row, 64-bit hash of each n-gram occurrence, and the number of rows."""
        rows, hashes, _, n_docs = self.weighted_hashes(texts)
        return rows, hashes, n_docs

    def weighted_hashes(
        self, texts: Iterable[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64], NDArray[Any] | None, int]:
        """:meth:`ngram_hashes` plus each occurrence's weight and norm weight.

        The weights are None when not scoped (all 1), else shape ``(n, 2)``.
        """
        docs = self.prepare(texts)
        if not self.scoped:
            rows, hashes = self.hash_docs(docs)
            return rows, hashes, None, len(docs)
        spans = [self.spans(doc) for doc in docs]
        span_row = np.repeat(np.arange(len(docs)), [len(s) for s in spans])
        span_weights = np.array(
            [(w, n) for s in spans for _, w, n in s], dtype=np.float64
        ).reshape(-1, 2)
        rows, hashes = self.hash_docs([text for s in spans for text, _, _ in s])
        return span_row[rows], hashes, span_weights[rows], len(docs)

    def bucket(self, hashes: NDArray[np.uint64]) -> NDArray[np.int64]:
        """The column of each 64-bit hash (its top bits)."""
        bits = int(self.n_features).bit_length() - 1
        if 1 << bits != self.n_features:
            raise ValueError(f"n_features must be a power of 2, got {self.n_features}")
        return (hashes >> U64(64 - bits)).astype(np.int64)

    def counts(self, texts: Iterable[str]) -> SparseRows:
        """Raw n-gram counts per document and bucket, sorted by row then column."""
        rows, hashes, weights, n_docs = self.weighted_hashes(texts)
        bits = int(self.n_features).bit_length() - 1
        keys = (rows << bits) | self.bucket(hashes)
        if weights is None:
            keys.sort()
        else:
            order = np.argsort(keys)
            keys, weights = keys[order], weights[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        starts = np.flatnonzero(first)
        unique = keys[starts]
        mask = (1 << bits) - 1
        if weights is None:
            counts = np.diff(np.append(starts, len(keys))).astype(self.dtype)
            return SparseRows(unique >> bits, unique & mask, counts, n_docs)
        sums = (
            np.add.reduceat(weights, starts, axis=0)
            if len(keys)
            else np.zeros((0, 2), dtype=np.float64)
        )
        return SparseRows(
            unique >> bits,
            unique & mask,
            sums[:, 0].astype(self.dtype),
            n_docs,
            sums[:, 1].astype(self.dtype),
        )

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

    def weighted_rows(self, texts: Iterable[str]) -> SparseRows:
        """Each text's feature values (here L2-normalised TF-IDF), without a matrix.

        Subclasses weigh differently: :class:`~sentiment.features.lexicon.LexiconScore`
        gives one valence.
        """
        entries = self.counts(texts)
        values = self.weigh(entries.values, entries.columns)
        loudness = values
        if entries.norm_values is not None:
            loudness = self.weigh(entries.norm_values, entries.columns)
        norms = np.sqrt(
            np.bincount(
                entries.rows, weights=loudness * loudness, minlength=entries.n_rows
            )
        )
        norms[norms == 0] = 1.0
        values /= norms[entries.rows].astype(self.dtype)
        return entries

    def weigh(self, counts: NDArray[Any], columns: NDArray[np.int64]) -> NDArray[Any]:
        """TF-IDF of (signed) counts, in place: sublinear, times each column's IDF.

        Signed counts keep their sign: ``sign(c) * (1 + log|c|)`` above 1 in size,
        ``c`` below (equal to ``1 + log c`` for plain counts, which are >= 1).
        """
        if self.sublinear_tf:
            magnitude = np.abs(counts)
            large = magnitude > 1.0
            counts[large] = np.sign(counts[large]) * (1.0 + np.log(magnitude[large]))
        counts *= self.idf_[columns]
        return counts

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        """L2-normalised TF-IDF rows, one per text, as a CSR matrix."""
        entries = self.weighted_rows(X)
        indptr = np.searchsorted(entries.rows, np.arange(entries.n_rows + 1))
        return sp.csr_matrix(
            (entries.values, entries.columns, indptr),
            shape=(entries.n_rows, self.n_features),
        )

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.str_]:
        """Bucket names, ``<analyzer>:<index>``."""
        return np.array([f"{self.analyzer}:{i}" for i in range(self.n_features)])


class WordCount(HashingTfidf):
    """One feature: how many word tokens a text has, raw (what a length gate reads).

    Linear heads give it weight 0; :class:`sentiment.model.gate.LengthGate` reads it
    to decide how much of a text each of two views of the same features decides.
    """

    def __init__(self, dtype: Any = np.float32) -> None:
        super().__init__("count", (1, 1), 1, 1, False, dtype)

    def hash_docs(
        self, docs: list[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        """Row and hash of each word token (the word blocks' tokens)."""
        return word_ngrams(docs, (1, 1))

    def fit(self, X: Iterable[str], y: Any = None) -> WordCount:
        """Nothing to learn: one column, IDF 1."""
        self.idf_ = np.ones(1, dtype=self.dtype)
        self.n_features_out_ = 1
        return self

    def weighted_rows(self, texts: Iterable[str]) -> SparseRows:
        """One entry per text: its number of word tokens."""
        docs = self.prepare(texts)
        rows, _ = self.hash_docs(docs)
        words = np.bincount(rows, minlength=len(docs)).astype(self.dtype)
        return SparseRows(
            np.arange(len(docs)), np.zeros(len(docs), np.int64), words, len(docs)
        )

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.str_]:
        """The one column's name."""
        return np.array(["words"])

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

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from sentiment.hashing import U64, WHITESPACE_RUNS, char_ngrams, word_ngrams


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

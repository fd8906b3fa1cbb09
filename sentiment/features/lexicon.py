"""The lexicon block: one feature, the valence of a text's words from a lexicon.

It reads the same word tokens as :class:`~sentiment.features.tfidf.HashingTfidf`'s
word blocks, with the same negation scopes and contrast weights, and gives one
column instead of hashed n-grams.

Models fitted while this class lived in ``tfidf.py`` name it
``sentiment.features.tfidf.LexiconScore``; ``sentiment/features/__init__.py`` binds
that name too, so they still load (``tests/unit/features/test_lexicon.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentiment.features.hashing import U64, word_ngram_hash, word_ngrams
from sentiment.features.tfidf import HashingTfidf, SparseRows

VALENCE_RANGE = 4.0


class LexiconScore(HashingTfidf):
    """One feature: the valence of a text's words from a sentiment lexicon.

    Each word token found in the lexicon adds its valence, times its span's weight
    (negated: the opposite sign; set aside by a contrast: less), and the sum is
    divided by the square root of the number of tokens, so a short sentence's one
    clear word counts for more than in a long review, and by VADER's valence range
    (4), which keeps the feature on the TF-IDF's scale (the solver converges in a
    quarter of the iterations). The lexicon (word -> valence) is read at fit time
    and stored in the fitted block.

    Args:
        lexicon: word -> valence.
        negated_weight: see :class:`HashingTfidf`.
        contrast_weight: see :class:`HashingTfidf`.
        weight: the feature's scale; under the classifier's L2 penalty a larger
            one lets the lexicon count for more at the same cost.
    """

    def __init__(
        self,
        lexicon: dict[str, float] | None = None,
        negated_weight: float = -1.0,
        contrast_weight: float = 1.0,
        dtype: Any = np.float32,
        weight: float = 1.0,
    ) -> None:
        super().__init__(
            "lexicon", (1, 1), 1, 1, False, dtype, negated_weight, contrast_weight
        )
        self.lexicon = lexicon
        self.weight = weight

    def hash_docs(
        self, docs: list[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.uint64]]:
        """Row and hash of each word token."""
        return word_ngrams(docs, (1, 1))

    def fit(self, X: Iterable[str], y: Any = None) -> LexiconScore:
        """Store the lexicon as sorted word hashes and their valences."""
        entries = sorted(
            (word_ngram_hash([word]), float(valence))
            for word, valence in (self.lexicon or {}).items()
        )
        self.hashes_ = np.array([h for h, _ in entries], dtype=U64)
        self.valences_ = np.array([v for _, v in entries], dtype=np.float64)
        self.idf_ = np.ones(1, dtype=self.dtype)
        self.scale_ = VALENCE_RANGE / self.weight  # stored: a fitted model keeps it
        self.n_features_out_ = 1
        return self

    def lookup(
        self, hashes: NDArray[np.uint64]
    ) -> tuple[NDArray[np.bool_], NDArray[np.int64]]:
        """Which word hashes are lexicon words, and where (valid where found)."""
        if not len(self.hashes_):
            return np.zeros(len(hashes), dtype=bool), np.zeros(len(hashes), np.int64)
        position = np.minimum(
            np.searchsorted(self.hashes_, hashes), len(self.hashes_) - 1
        )
        return self.hashes_[position] == hashes, position

    def weighted_rows(self, texts: Iterable[str]) -> SparseRows:
        """The lexicon score of each text, as column 0."""
        rows, hashes, weights, n_docs = self.weighted_hashes(texts)
        hit, position = self.lookup(hashes)
        found = np.zeros(len(hashes), dtype=np.float64)
        found[hit] = self.valences_[position[hit]]
        if weights is not None:
            found *= weights[:, 0]
        total = np.bincount(rows, weights=found, minlength=n_docs)
        tokens = np.maximum(np.bincount(rows, minlength=n_docs), 1)
        return SparseRows(
            np.arange(n_docs, dtype=np.int64),
            np.zeros(n_docs, dtype=np.int64),
            (total / (self.scale_ * np.sqrt(tokens))).astype(self.dtype),
            n_docs,
        )

    def get_feature_names_out(self, input_features: Any = None) -> NDArray[np.str_]:
        """The one feature's name."""
        return np.array(["lexicon"])

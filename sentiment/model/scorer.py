"""How the service calls a fitted pipeline: its linear heads, scored in one pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentiment.features.tfidf import HashingTfidf, WordCount
from sentiment.model.decision import PROBABILITIES, Scores, scores_of
from sentiment.model.fused import FusedScorer
from sentiment.model.gate import LengthGate

WORD_PATTERN = r"(?u)\b\w+\b"  # keeps one-letter words ("a", "i") that matter here


def speed_up_inference(pipeline: Any) -> Any:
    """Store naive Bayes weights column-major (no copy per call); no-op otherwise."""
    classifier = getattr(pipeline, "named_steps", {}).get("classifier")  # an import's?
    named = getattr(classifier, "named_estimators_", {})
    if "naive_bayes" in named:
        bayes = named["naive_bayes"]
        bayes.feature_log_prob_ = np.asfortranarray(bayes.feature_log_prob_)
    return pipeline


def linear_heads(classifier: Any) -> list[tuple[NDArray[Any], float]]:
    """``(weights, bias)`` of each linear model whose probabilities are averaged.

    A binary logistic regression's positive-class probability is
    ``sigmoid(x . coef + intercept)``; a multinomial naive Bayes's is
    ``sigmoid(x . (log P(f|pos) - log P(f|neg)) + log P(pos) - log P(neg))``.
    A soft vote averages them.
    """
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB

    if isinstance(classifier, LengthGate):
        return [head for view in classifier.views or [] for head in linear_heads(view)]
    if isinstance(classifier, LogisticRegression) and classifier.coef_.shape[0] == 1:
        return [
            (
                classifier.coef_.ravel(),
                float(classifier.intercept_[0]),
            )
        ]
    if isinstance(classifier, MultinomialNB) and len(classifier.classes_) == 2:
        log_prob = classifier.feature_log_prob_
        prior = classifier.class_log_prior_
        return [(log_prob[1] - log_prob[0], float(prior[1] - prior[0]))]
    if (
        isinstance(classifier, VotingClassifier)
        and classifier.voting == "soft"
        and classifier.weights is None
    ):
        heads = [linear_heads(estimator) for estimator in classifier.estimators_]
        if all(len(head) == 1 for head in heads):
            return [head[0] for head in heads]
    raise TypeError(f"not a binary linear classifier: {type(classifier).__name__}")


class LinearScorer:
    """``predict_proba`` of hashed features into linear classifiers, lean.

    Same numbers as ``pipeline.predict_proba`` (unit-tested to 1e-6) without the
    per-call machinery: no ``FeatureUnion`` (joblib), no sparse matrix, no input
    validation. Each feature block's TF-IDF entries are dotted with its slice of
    each linear head's weights directly; a soft vote averages the heads'
    probabilities, a :class:`~sentiment.model.gate.LengthGate` shares their logits
    by each text's length.
    """

    def __init__(self, pipeline: Any) -> None:
        classifier = pipeline.named_steps["classifier"]
        self.gate = classifier if isinstance(classifier, LengthGate) else None
        self.heads = [
            (weights.astype(np.float64), bias)
            for weights, bias in linear_heads(classifier)
        ]
        self.blocks: list[tuple[HashingTfidf, int]] = []
        offset = 0
        for _, block in pipeline.named_steps["features"].transformer_list:
            self.blocks.append((block, offset))
            offset += block.n_features
        self.word_count = next(
            (b for b, _ in self.blocks if isinstance(b, WordCount)), None
        )
        self.fused = (
            FusedScorer(self.blocks, self.heads)
            if FusedScorer.supports(self.blocks)
            else None
        )

    @staticmethod
    def supports(pipeline: Any) -> bool:
        """Whether ``pipeline`` is hashed feature blocks into binary linear models."""
        features = getattr(pipeline, "named_steps", {}).get("features")
        if features is None or not all(
            isinstance(block, HashingTfidf) for _, block in features.transformer_list
        ):
            return False
        try:
            linear_heads(pipeline.named_steps["classifier"])
        except (TypeError, KeyError, AttributeError):
            return False
        return True

    def logits(self, texts: list[str]) -> NDArray[np.float64]:
        """Each head's decision value for each text, shape ``(heads, texts)``."""
        if self.fused is not None:
            return self.fused.logits(texts)
        return self.block_logits(texts)

    def block_logits(self, texts: list[str]) -> NDArray[np.float64]:
        """:meth:`logits` block by block (the reference :mod:`fused` must equal)."""
        totals = np.array([[bias] * len(texts) for _, bias in self.heads], dtype=float)
        for block, offset in self.blocks:
            entries = block.weighted_rows(texts)
            columns = entries.columns + offset
            for total, (weights, _) in zip(totals, self.heads, strict=True):
                total += np.bincount(
                    entries.rows,
                    weights=entries.values * weights[columns],
                    minlength=len(texts),
                )
        return totals

    def logits_and_words(
        self, texts: list[str]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """:meth:`logits`, and each text's word count when a block counts them."""
        if self.fused is not None:
            return self.fused.logits_and_words(texts)
        words = None
        if self.word_count is not None:
            words = self.word_count.weighted_rows(texts).values.astype(np.float64)
        return self.block_logits(texts), words

    def probabilities(
        self, logits: NDArray[np.float64], words: NDArray[np.float64] | None
    ) -> NDArray[np.float64]:
        """Both classes' probabilities from :meth:`logits_and_words`' output."""
        if self.gate is None or words is None:
            positive = (1.0 / (1.0 + np.exp(-logits))).mean(axis=0)
        else:
            ngram, behaviour = logits
            positive = 1.0 / (1.0 + np.exp(-self.gate.mix(ngram, behaviour, words)))
        return np.column_stack([1.0 - positive, positive])

    def predict_proba(self, texts: list[str]) -> NDArray[np.float64]:
        """Probabilities of the two classes, in ``classes_`` order."""
        return self.probabilities(*self.logits_and_words(texts))


def known_feature_counts(pipeline: Any) -> Callable[[list[str]], list[int]] | None:
    """A function counting each text's word n-grams seen in training (hashed only).

    None for pipelines without a hashed word block.
    """
    if not LinearScorer.supports(pipeline):
        return None
    words = [
        block
        for _, block in pipeline.named_steps["features"].transformer_list
        if block.analyzer == "word" and hasattr(block, "seen_hashes_")
    ]
    if not words:
        return None

    def count(texts: list[str]) -> list[int]:
        total = np.zeros(len(texts), dtype=np.int64)
        for block in words:
            total += block.known_counts(texts)
        return [int(n) for n in total]

    return count


def scores(pipeline: Any) -> Scores:
    """The fastest exact scores for ``pipeline`` on validated texts, and their kind.

    Hashed + logistic regression pipelines get :class:`LinearScorer`; any other
    classifier its own ``predict_proba`` (or ``decision_function``), with
    scikit-learn's per-call checks off (:mod:`sentiment.model.decision`).
    """
    if LinearScorer.supports(pipeline):
        return Scores(LinearScorer(pipeline).predict_proba, PROBABILITIES)
    return scores_of(pipeline)


def scorer(pipeline: Any) -> Callable[[list[str]], Any]:
    """:func:`scores`' function alone."""
    return scores(pipeline).predict_proba

"""Two linear views of the same features, shared out by each text's length.

The n-gram view is fitted on real reviews only; the behaviour view on the same
features with negated and polarity-swapped counterfactuals as well
(:mod:`sentiment.training.stacking`). On a long review the n-grams hold plenty of
evidence and the n-gram view is the more accurate; on a short sentence ("The plot
was not bad at all.") a handful of n-grams carry it, and their weights learned
from natural reviews ("not" means negative) are what the behaviour view
corrects. So a text's logit is

    (1 - s) * ngram + s * behaviour,   s = 1 / (1 + exp((words - midpoint) / width))

with ``words`` its number of word tokens (:class:`~sentiment.features.tfidf.WordCount`,
the last feature column, weight 0 in both views). Both views are served in one
pass (:class:`~sentiment.model.fused.FusedScorer`, two heads); the gate is one
sigmoid per text.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin


class LengthGate(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A binary classifier: two fitted logistic regressions, shared by text length.

    Args:
        views: the n-gram view then the behaviour view, fitted, each over every
            feature column (weight 0 on the last, the word count).
        midpoint: the length in words at which each view decides half.
        width: how many words the hand-over takes (the sigmoid's scale).
    """

    def __init__(
        self, views: list[Any] | None = None, midpoint: float = 10.0, width: float = 1.0
    ) -> None:
        self.views = views
        self.midpoint = midpoint
        self.width = width

    def fit(self, X: Any, y: Any) -> LengthGate:
        """Not fitted here: the views come fitted (``training.stacking.fit_gated``)."""
        raise NotImplementedError("LengthGate takes fitted views: see fit_gated")

    def __sklearn_is_fitted__(self) -> bool:
        """Fitted when it holds its views."""
        return self.views is not None

    @property
    def classes_(self) -> NDArray[Any]:
        """The views' classes (negative, positive)."""
        return np.asarray(self.views[0].classes_)  # type: ignore[index]

    def behaviour_share(self, words: NDArray[Any]) -> NDArray[np.float64]:
        """How much of each text's logit the behaviour view decides, 0..1."""
        scaled = (np.asarray(words, dtype=np.float64) - self.midpoint) / self.width
        return 1.0 / (1.0 + np.exp(np.clip(scaled, -50.0, 50.0)))

    def mix(self, ngram: NDArray[Any], behaviour: NDArray[Any], words: Any) -> Any:
        """The shared logit of each text from both views' logits."""
        share = self.behaviour_share(words)
        return (1.0 - share) * ngram + share * behaviour

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Each row's shared logit (its last column is its number of words)."""
        import scipy.sparse as sp

        matrix = sp.csr_matrix(X)
        words = matrix[:, -1].toarray().ravel()
        ngram, behaviour = (
            matrix @ view.coef_.ravel() + view.intercept_[0]
            for view in self.views  # type: ignore[union-attr]
        )
        return np.asarray(self.mix(ngram, behaviour, words), dtype=np.float64)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Probabilities of the two classes, in ``classes_`` order."""
        positive = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X: Any) -> NDArray[Any]:
        """The more likely class of each row."""
        positive = (self.decision_function(X) > 0).astype(int)
        return np.take(self.classes_, positive)

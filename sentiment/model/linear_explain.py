"""Exact explanations of any linear scikit-learn model over named text features.

A fitted ``Pipeline`` whose last step has ``coef_`` (``LogisticRegression``,
``LinearSVC``, ``SGDClassifier``, ``RidgeClassifier``) over steps that name their
features (``get_feature_names_out``: the vectorizers, ``TfidfTransformer``, a
``FeatureUnion`` of them) decides a text by ``x . coef[k] + intercept[k]``; each
term is one feature's contribution to class ``k``'s decision value, and they add
up exactly to it. Two classes have one row (toward the second class, against
the first); more have one row per class. Anything else cannot be read this way,
and :meth:`LinearExplainer.build` says why in one line (``/explain``'s 409).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class FeatureWeight:
    """One feature's push on one component's logit."""

    feature: str
    kind: str
    weight: float


def strongest(
    found: list[FeatureWeight],
    top: int,
    labels: Sequence[str] = ("positive", "negative"),
) -> dict[str, list[dict[str, Any]]]:
    """The ``top`` features pushing toward each label, weights as positive pushes.

    ``labels``: the label a positive weight pushes toward, then (if any) the one
    a negative weight pushes toward.
    """
    ranked = sorted(found, key=lambda c: c.weight)
    toward = [c for c in reversed(ranked) if c.weight > 0][:top]
    against = [c for c in ranked if c.weight < 0][:top]
    pushes = {
        labels[0]: [
            {"feature": c.feature, "kind": c.kind, "weight": round(c.weight, 4)}
            for c in toward
        ]
    }
    if len(labels) > 1:
        pushes[labels[1]] = [
            {"feature": c.feature, "kind": c.kind, "weight": round(-c.weight, 4)}
            for c in against
        ]
    return pushes


def feature_kinds(features: Any) -> list[str]:
    """``word`` or ``char`` for each output feature of a (fitted) feature step."""
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(features, FeatureUnion):
        return [
            kind
            for _, part, *_ in features.transformer_list
            if part not in ("drop", None)
            for kind in feature_kinds(part)
        ]
    count = len(features.get_feature_names_out())
    first = features.steps[0][1] if isinstance(features, Pipeline) else features
    if isinstance(first, FeatureUnion):
        return feature_kinds(first)
    analyzer = getattr(first, "analyzer", "word")
    return ["char" if str(analyzer).startswith("char") else "word"] * count


def bare_name(name: str) -> str:
    """A feature's name without a ``FeatureUnion``'s ``part__`` prefix."""
    return name.split("__", 1)[1] if "__" in name else name


class LinearExplainer:
    """Per-feature contributions of a pipeline ending in a linear classifier."""

    def __init__(self, features: Any, classifier: Any, classes: list[str]) -> None:
        self.features = features
        self.classes = classes
        self.coef = np.atleast_2d(
            np.asarray(
                classifier.coef_.todense()
                if hasattr(classifier.coef_, "todense")
                else classifier.coef_,
                dtype=np.float64,
            )
        )
        self.intercept = np.atleast_1d(
            np.asarray(getattr(classifier, "intercept_", 0.0), dtype=np.float64)
        ) * np.ones(len(self.coef))
        self.names = np.array(
            [bare_name(str(n)) for n in features.get_feature_names_out()], dtype=object
        )
        self.kinds = feature_kinds(features)
        self.component = type(classifier).__name__

    @classmethod
    def build(
        cls, model: Any, classes: list[str]
    ) -> tuple[LinearExplainer | None, str]:
        """The explainer of ``model``, or None and why it cannot be explained."""
        from sklearn.pipeline import Pipeline

        if not isinstance(model, Pipeline) or len(model.steps) < 2:
            return (
                None,
                "it is not a Pipeline of text features into a linear classifier",
            )
        classifier = model.steps[-1][1]
        if not hasattr(classifier, "coef_"):
            return None, (
                f"its classifier {type(classifier).__name__} is not linear (no coef_)"
            )
        features = model[:-1]
        try:
            explainer = cls(features, classifier, classes)
        except (AttributeError, ValueError, TypeError) as exc:
            return None, (
                f"its feature steps do not name their features "
                f"(get_feature_names_out: {type(exc).__name__})"
            )
        rows, width = explainer.coef.shape
        if width != len(explainer.names) or rows not in (1, len(classes)):
            return None, "its coefficients do not match its features"
        return explainer, ""

    def rows(self) -> list[tuple[str, list[str]]]:
        """Each coefficient row's name and the labels it pushes (toward, against)."""
        if len(self.coef) == 1:
            return [(self.component, [self.classes[1], self.classes[0]])]
        return [(label, [label]) for label in self.classes]

    def explain(
        self,
        texts: list[str],
        top: int,
        predict_proba: Callable[[list[str]], Any],
    ) -> list[dict[str, Any]]:
        """Label and score (as ``/classify``) and the strongest contributions."""
        matrix = self.features.transform(texts).tocsr()
        probabilities = np.asarray(predict_proba(texts))
        answers = []
        for index in range(len(texts)):
            row = matrix.getrow(index)
            columns, values = row.indices, row.data
            components: list[dict[str, Any]] = []
            summed: dict[str, list[dict[str, Any]]] = {c: [] for c in self.classes}
            for (name, labels), coef, bias in zip(
                self.rows(), self.coef, self.intercept, strict=True
            ):
                pushes: NDArray[np.float64] = values * coef[columns]
                found = [
                    FeatureWeight(self.names[c], self.kinds[c], float(w))
                    for c, w in zip(columns, pushes, strict=True)
                    if w != 0
                ]
                top_of = strongest(found, top, labels)
                for label, listed in top_of.items():
                    summed[label] = listed
                logit = float(bias + pushes.sum())
                components.append(
                    {
                        "name": name,
                        "share": 1.0,
                        "intercept": round(float(bias), 6),
                        "logit": round(logit, 6),
                        **top_of,
                    }  # fmt: skip
                )
            best = int(np.argmax(probabilities[index]))
            answers.append(
                {
                    "label": self.classes[best],
                    "score": float(probabilities[index][best]),
                    "contributions": summed,
                    "components": components,
                }
            )
        return answers

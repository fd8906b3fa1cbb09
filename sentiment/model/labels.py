"""Probabilities to labels, the one place each rule lives.

Two rules, because two questions are asked: the API and file jobs name the most
probable class of a ``predict_proba`` row (:func:`best_labels`; a tie goes to
the first column, as ``argmax`` does), while the shadow comparison and the
behaviour suite read one positive-class probability (:func:`label_of`: 0.5 and
up is positive). :func:`to_predictions` builds the API's answers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentiment.model.artifact import LABELS

NEGATIVE, POSITIVE = LABELS


def best_labels(
    probabilities: NDArray[Any], classes: list[str]
) -> tuple[list[str], NDArray[Any]]:
    """Each row's most probable class and its probability."""
    best = probabilities.argmax(axis=1)
    scores = probabilities[np.arange(len(best)), best]
    return [classes[index] for index in best], scores


def label_of(positive: float) -> str:
    """The label a positive-class probability stands for."""
    return POSITIVE if positive >= 0.5 else NEGATIVE


def to_predictions(probabilities: Any, classes: list[str]) -> list[dict[str, Any]]:
    """Turn a ``predict_proba`` matrix into one prediction dict per row.

    Args:
        probabilities: array of shape ``(n_texts, n_classes)``.
        classes: class labels in the matrix's column order.

    Returns:
        ``{"label", "score", "probabilities"}`` per row, in row order.
    """
    labels, scores = best_labels(probabilities, classes)
    return [
        {
            "label": label,
            "score": float(score),
            "probabilities": dict(zip(classes, map(float, row), strict=True)),
        }
        for label, score, row in zip(labels, scores, probabilities, strict=True)
    ]

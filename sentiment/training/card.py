"""The model card: calibration, accuracy by review length, known limits.

Computed by ``train.py`` on the evaluation slice (reviews the model never saw),
stored in the model's metadata and shown at ``GET /model-info``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sentiment.model.metadata import LengthBucket, ModelCard, ReliabilityBin

LENGTH_EDGES = (1, 11, 21, 31)  # buckets: 1-10, 11-20, 21-30, 31+ words
LIMITS = [
    "English movie reviews only: trained on short critic snippets (Rotten "
    "Tomatoes); other domains and languages are guesses.",
    "Two labels: mixed or neutral reviews are forced to positive or negative; "
    "a score near 0.5 means unsure.",
    "Sarcasm, irony and world knowledge are out of reach of a linear model of "
    "n-grams and word valence; negation is handled within a clause only "
    "(see `make behaviour`).",
    "Reviews longer than the training snippets (over about 50 words) are "
    "scored, but the model saw few of them.",
]


def expected_calibration_error(
    positive: np.ndarray, is_positive: np.ndarray, bins: int = 10
) -> tuple[float, list[ReliabilityBin]]:
    """ECE over equal-width bins of the positive probability, and the bins.

    ECE is the count-weighted mean gap between the mean predicted probability
    and the observed share of positives in each bin.
    """
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(positive, edges[1:-1]), 0, bins - 1)
    table, gap = [], 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        predicted = float(positive[members].mean()) if count else None
        observed = float(is_positive[members].mean()) if count else None
        if count:
            gap += count * abs(predicted - observed)  # type: ignore[operator]
        table.append(
            ReliabilityBin(
                low=round(float(edges[b]), 2),
                high=round(float(edges[b + 1]), 2),
                count=count,
                mean_predicted=None if predicted is None else round(predicted, 4),
                share_positive=None if observed is None else round(observed, 4),
            )
        )
    return round(gap / max(len(positive), 1), 4), table


def accuracy_by_length(lengths: np.ndarray, correct: np.ndarray) -> list[LengthBucket]:
    """Accuracy per bucket of :data:`LENGTH_EDGES` words."""
    buckets = []
    for low, high in zip(LENGTH_EDGES, (*LENGTH_EDGES[1:], None), strict=True):
        members = (lengths >= low) & (lengths < high if high else True)
        count = int(members.sum())
        accuracy = round(float(correct[members].mean()), 4) if count else None
        max_words = None if high is None else high - 1
        buckets.append(
            LengthBucket(
                min_words=low, max_words=max_words, count=count, accuracy=accuracy
            )
        )
    return buckets


def model_card(pipeline: Any, texts: list[str], labels: list[str]) -> ModelCard:
    """Measure the card of a fitted pipeline on labelled evaluation texts."""
    classes = list(pipeline.classes_)
    proba = pipeline.predict_proba(texts)
    positive = proba[:, classes.index("positive")]
    truth = np.asarray(labels) == "positive"
    ece, reliability = expected_calibration_error(positive, truth)
    correct = (positive >= 0.5) == truth
    lengths = np.array([len(text.split()) for text in texts])
    return ModelCard(
        evaluated_on="evaluation slice: reviews chosen by text hash, never trained on",
        n_eval=len(texts),
        ece=ece,
        reliability=reliability,
        accuracy_by_length=accuracy_by_length(lengths, correct),
        limits=LIMITS,
    )

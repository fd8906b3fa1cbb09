"""sentiment.model.labels: the two probability-to-label rules."""

from __future__ import annotations

import numpy as np

from sentiment.model.labels import best_labels, label_of


def test_best_labels_names_each_rows_most_probable_class() -> None:
    probabilities = np.array([[0.2, 0.8], [0.9, 0.1], [0.5, 0.5]])
    labels, scores = best_labels(probabilities, ["negative", "positive"])
    assert labels == ["positive", "negative", "negative"], "a tie: the first column"
    np.testing.assert_array_equal(scores, [0.8, 0.9, 0.5])


def test_label_of_reads_the_positive_probability() -> None:
    assert [label_of(p) for p in (0.49, 0.5, 0.9)] == [
        "negative",
        "positive",
        "positive",
    ]

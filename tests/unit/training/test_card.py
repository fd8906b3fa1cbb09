"""Unit tests for the model card: calibration error, length buckets."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.training.card import (
    accuracy_by_length,
    expected_calibration_error,
    model_card,
)


def test_ece_is_zero_when_each_bin_matches_its_share() -> None:
    positive = np.array([0.25] * 4 + [0.75] * 4)
    truth = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    ece, bins = expected_calibration_error(positive, truth)
    assert ece == 0.0
    assert [b.count for b in bins if b.count] == [4, 4]
    assert bins[2].share_positive == 0.25 and bins[7].share_positive == 0.75


def test_ece_is_the_weighted_gap_of_an_overconfident_model() -> None:
    positive = np.array([0.95] * 10)
    truth = np.array([True] * 5 + [False] * 5)
    ece, bins = expected_calibration_error(positive, truth)
    assert ece == pytest.approx(0.45)
    assert bins[-1].count == 10 and bins[0].mean_predicted is None


def test_accuracy_by_length_buckets_words() -> None:
    lengths = np.array([3, 10, 11, 25, 40, 90])
    correct = np.array([True, False, True, True, False, True])
    buckets = accuracy_by_length(lengths, correct)
    assert [(b.min_words, b.max_words, b.count) for b in buckets] == [
        (1, 10, 2),
        (11, 20, 1),
        (21, 30, 1),
        (31, None, 2),
    ]
    assert [b.accuracy for b in buckets] == [0.5, 1.0, 1.0, 0.5]


class Constant:
    """A stand-in classifier: the same probability for every text."""

    classes_ = np.array(["negative", "positive"])

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.tile([0.2, 0.8], (len(texts), 1))


def test_model_card_of_a_constant_model() -> None:
    card = model_card(Constant(), ["good", "bad film", "fine"], ["positive"] * 3)
    assert card.n_eval == 3
    assert card.ece == pytest.approx(0.2)
    assert card.accuracy_by_length[0].accuracy == 1.0
    assert card.limits

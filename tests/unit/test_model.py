"""Unit tests for sentiment.model: building and calling the pipeline."""

from __future__ import annotations

import numpy as np

from sentiment.model import to_predictions
from sentiment.schemas import Prediction


def test_to_predictions_picks_best_label_in_row_order() -> None:
    probabilities = np.array([[0.1, 0.9], [0.7, 0.3], [0.5, 0.5]])
    predictions = to_predictions(probabilities, ["negative", "positive"])
    assert [p["label"] for p in predictions] == ["positive", "negative", "negative"]
    assert [p["score"] for p in predictions] == [0.9, 0.7, 0.5]
    assert predictions[1]["probabilities"] == {"negative": 0.7, "positive": 0.3}
    for prediction in predictions:
        Prediction.model_validate(prediction)


def test_to_predictions_empty_batch() -> None:
    assert to_predictions(np.empty((0, 2)), ["negative", "positive"]) == []

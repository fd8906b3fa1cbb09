"""Unit tests for sentiment.training.evaluation: held-out metrics and their report."""

from __future__ import annotations

import pandas as pd

from sentiment.training.evaluation import cross_validate, evaluate, format_metrics
from sentiment.training.pipeline import ModelParams, build_pipeline


def test_pipeline_learns_and_evaluate_reports_all_metrics(
    reviews: pd.DataFrame,
) -> None:
    pipeline = build_pipeline(ModelParams(char_min_df=1, n_features=1 << 12))
    pipeline.fit(list(reviews["text"]), reviews["label"])
    metrics = evaluate(pipeline, reviews["text"], reviews["label"])
    assert metrics["accuracy"] == 1.0
    assert metrics["f1_macro"] == 1.0
    assert metrics["roc_auc"] == 1.0
    assert metrics["confusion_matrix"]["labels"] == ["negative", "positive"]
    assert metrics["confusion_matrix"]["counts"] == [[8, 0], [0, 8]]
    assert metrics["n_test"] == 16


def test_evaluate_counts_mistakes() -> None:
    class AlwaysPositive:
        classes_ = ["negative", "positive"]

        def predict_proba(self, texts: list[str]) -> object:
            import numpy as np

            return np.tile([0.2, 0.8], (len(texts), 1))

    labels = pd.Series(["positive", "positive", "positive", "negative"])
    metrics = evaluate(AlwaysPositive(), pd.Series(["a"] * 4), labels)
    assert metrics["accuracy"] == 0.75
    assert metrics["confusion_matrix"]["counts"] == [[0, 1], [0, 3]]
    assert metrics["roc_auc"] == 0.5


def test_format_metrics_shows_table() -> None:
    table = format_metrics(
        {
            "accuracy": 0.8,
            "f1_macro": 0.75,
            "roc_auc": 0.9,
            "confusion_matrix": {
                "labels": ["negative", "positive"],
                "counts": [[3, 1], [1, 5]],
            },
        }
    )
    assert "accuracy        0.8000" in table
    assert "negative             3         1" in table


def test_cross_validation_keeps_each_folds_accuracy_and_its_seed(
    reviews: pd.DataFrame,
) -> None:
    params = ModelParams(char_min_df=1, n_features=1 << 12)
    cv = cross_validate(reviews, params, 2, seed=7)
    assert cv.seed == 7 and len(cv.fold_accuracies) == 2
    assert abs(sum(cv.fold_accuracies) / 2 - cv.accuracy_mean) < 1e-4
    # The same seed and data give the same folds, so the gate can pair them.
    assert cross_validate(reviews, params, 2, seed=7).fold_accuracies == (
        cv.fold_accuracies
    )

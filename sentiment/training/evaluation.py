"""Model quality: held-out metrics, cross-validated accuracy, and their report."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sentiment.errors import TrainingError
from sentiment.model.artifact import LABELS
from sentiment.model.metadata import CrossValidation, DriftReference
from sentiment.model.scorer import known_feature_counts
from sentiment.training.pipeline import ModelParams, fit_pipeline
from sentiment.training.progress import Progress, quiet


def evaluate(pipeline: Any, texts: pd.Series, labels: pd.Series) -> dict[str, Any]:
    """Held-out metrics: accuracy, macro-F1, ROC AUC and the confusion matrix.

    Returns:
        A JSON-serialisable dict; the confusion matrix rows are true labels and
        columns predicted labels, both in ``LABELS`` order.
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        roc_auc_score,
    )

    proba = pipeline.predict_proba(list(texts))
    classes = list(pipeline.classes_)
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    positive_proba = proba[:, classes.index("positive")]
    matrix = confusion_matrix(labels, predicted, labels=list(LABELS))
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "f1_macro": round(float(f1_score(labels, predicted, average="macro")), 4),
        "roc_auc": round(float(roc_auc_score(labels == "positive", positive_proba)), 4),
        "confusion_matrix": {
            "labels": list(LABELS),
            "counts": matrix.tolist(),
            "normalized": np.round(
                matrix / matrix.sum(axis=1, keepdims=True), 4
            ).tolist(),
        },
        "n_test": len(labels),
    }


def cross_validate(
    reviews: pd.DataFrame,
    params: ModelParams,
    folds: int,
    seed: int,
    progress: Progress | None = None,
) -> CrossValidation:
    """Accuracy of ``params`` over stratified folds of all cleaned reviews.

    ``progress`` hears of each fold as it runs and its accuracy when it ends.

    Raises:
        TrainingError: a class has fewer reviews than folds.
    """
    from sklearn.model_selection import StratifiedKFold

    smallest = int(reviews["label"].value_counts().min())
    if smallest < folds:
        raise TrainingError(
            f"--cv {folds} needs at least {folds} reviews per class, found {smallest}"
        )
    texts = np.asarray(reviews["text"], dtype=object)
    labels = np.asarray(reviews["label"])
    progress = progress or Progress(quiet)
    accuracies = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for fold, (train_index, test_index) in enumerate(splitter.split(texts, labels), 1):
        with progress.step(f"cross-validation fold {fold}/{folds}"):
            train_texts = list(texts[train_index])
            pipeline = fit_pipeline(params, train_texts, labels[train_index])
            predicted = pipeline.predict(list(texts[test_index]))
        accuracies.append(float((predicted == labels[test_index]).mean()))
        progress.say(f"fold {fold}/{folds}: accuracy {accuracies[-1]:.4f}")
    return CrossValidation(
        folds=folds,
        accuracy_mean=round(float(np.mean(accuracies)), 4),
        accuracy_std=round(float(np.std(accuracies)), 4),
        seed=seed,
        fold_accuracies=[round(a, 6) for a in accuracies],
    )


def format_metrics(metrics: dict[str, Any]) -> str:
    """Render metrics as a small plain-text table."""
    lines = [f"{'metric':<12}{'value':>10}", "-" * 22]
    for key in ("accuracy", "f1_macro", "roc_auc"):
        lines.append(f"{key:<12}{metrics[key]:>10.4f}")
    labels = metrics["confusion_matrix"]["labels"]
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    lines.append(" " * 12 + "".join(f"{label:>10}" for label in labels))
    for label, row in zip(labels, metrics["confusion_matrix"]["counts"], strict=True):
        lines.append(f"{label:<12}" + "".join(f"{n:>10}" for n in row))
    return "\n".join(lines)


def drift_reference(pipeline: Any, texts: list[str]) -> DriftReference:
    """What the drift report compares the prediction log with, from held-out texts."""
    classes = list(pipeline.classes_)
    positive = pipeline.predict_proba(texts)[:, classes.index("positive")]
    count_known = known_feature_counts(pipeline)
    if count_known is not None:
        known = np.array(count_known(texts))
    else:  # a vocabulary pipeline: a text with no known n-gram has an empty row
        known = np.diff(pipeline.named_steps["features"].transform(texts).indptr)
    return score_reference(positive, float(np.mean(known == 0)))


def score_reference(positive: Any, unknown_share: float) -> DriftReference:
    """The drift reference of scores P(positive), ``unknown_share`` of texts unknown."""
    counts, edges = np.histogram(positive, bins=10, range=(0.0, 1.0))
    return DriftReference(
        positive_share=round(float(np.mean(positive >= 0.5)), 4),
        score_edges=[round(float(e), 4) for e in edges],
        score_counts=[int(c) for c in counts],
        unknown_share=round(unknown_share, 4),
    )

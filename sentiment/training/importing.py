"""Bring a fitted scikit-learn text classifier: check, evaluate, describe it.

:func:`prepare` loads the user's file, refuses a model that cannot serve
(:mod:`sentiment.training.servable`), optionally calibrates its scores, and
measures it on labelled data: the evaluation slice of ``data/`` when the model's
labels are its labels, else the user's file. It touches nothing on disk; the
caller (``import_model.py``) saves what it returns as a candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment.errors import TrainingError
from sentiment.model.artifact import LABELS, sha256_of
from sentiment.model.decision import UNCALIBRATED, scores_of
from sentiment.model.metadata import (
    Checks,
    ConfusionMatrix,
    DataInfo,
    DriftReference,
    Imported,
    Metrics,
    ModelCard,
)
from sentiment.training.card import accuracy_by_length, expected_calibration_error
from sentiment.training.data import clean_reviews, load_reviews, split_eval_slice
from sentiment.training.evaluation import score_reference
from sentiment.training.servable import check_servable, load_file

ALWAYS = ["infrastructure", "accuracy (McNemar)", "speed"]
SENTIMENT_ONLY = ["must not flip", "behaviour"]
LIMITS = [
    "Imported: the project did not train it and cannot know what it was trained "
    "on; its metrics are only as unseen as the evaluation data is to it.",
    "The review rules of the API apply to its input as to the project's model.",
]


@dataclass
class Prepared:
    """An imported model ready to save, and what was measured of it."""

    model: Any
    labels: list[str]
    metrics: Metrics
    card: ModelCard
    data: DataInfo
    checks: Checks
    imported: Imported
    reference: DriftReference | None = None  # make drift's: the sentiment pair only


def estimator_name(model: Any) -> str:
    """``Pipeline(TfidfVectorizer, LinearSVC)``, or the class name."""
    steps = getattr(model, "steps", None)
    if steps:
        return (
            f"{type(model).__name__}({', '.join(type(s).__name__ for _, s in steps)})"
        )
    return type(model).__name__


def label_names(classes: list[Any], names: list[str] | None) -> list[str]:
    """The served labels: ``names`` for the classes in order, else their strings.

    Raises:
        TrainingError: the wrong number of names, or names that repeat.
    """
    labels = names if names else [str(c) for c in classes]
    if len(labels) != len(classes) or len(set(labels)) != len(labels):
        raise TrainingError(
            f"--labels names {len(labels)} labels {labels} for {len(classes)} classes "
            f"{[str(c) for c in classes]}: give one distinct name per class, in order"
        )
    return labels


def labelled(path: Path, text: str, label: str) -> pd.DataFrame:
    """A labelled file, cleaned by the review rules, labels as written."""
    frame, _ = clean_reviews(load_reviews(path, text, label), labels=None)
    return frame


def evaluation_data(
    labels: list[str], data: Path | None, text: str, label: str, corpus: Path
) -> tuple[pd.DataFrame, str, Path]:
    """Where to measure: ``data/``'s evaluation slice when the labels match.

    Raises:
        TrainingError: other labels and no labelled file, or a file whose labels
            are not the model's.
    """
    if sorted(labels) == sorted(LABELS):
        reviews, _ = clean_reviews(load_reviews(corpus))
        _, held = split_eval_slice(reviews)
        return held, f"evaluation slice of {corpus.name}", corpus
    if data is None:
        raise TrainingError(
            f"the model's labels {labels} are not data/'s {list(LABELS)}: give "
            "labelled data to evaluate it (DATA=file TEXT_COLUMN=.. LABEL_COLUMN=..)"
        )
    return known_labels(data, text, label, labels), f"all of {data.name}", data


def known_labels(data: Path, text: str, label: str, labels: list[str]) -> pd.DataFrame:
    """The labelled file's reviews, when each label is one of the model's.

    Raises:
        TrainingError: a label the model does not know (``Positive`` is not
            ``positive``).
    """
    frame = labelled(data, text, label)
    unknown = sorted(set(frame["label"]) - set(labels))
    if unknown:
        raise TrainingError(
            f"{data.name} has labels {unknown[:5]} the model does not know {labels}"
        )
    return frame


def calibrated(
    model: Any, frame: pd.DataFrame, classes: list[Any], labels: list[str]
) -> Any:
    """``model`` with scores fitted on ``frame`` (sigmoid, the model frozen)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator

    to_class = dict(zip(labels, classes, strict=True))
    target = np.asarray([to_class[label] for label in frame["label"]])
    wrapped = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")
    return wrapped.fit(list(frame["text"]), target)


def measure(
    model: Any, labels: list[str], texts: list[str], truth: list[str], where: str
) -> tuple[Metrics, ModelCard]:
    """Accuracy, macro-F1, ROC AUC, the confusion matrix and the card."""
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        roc_auc_score,
    )

    scores = np.asarray(scores_of(model).predict_proba(texts))
    best = scores.argmax(axis=1)
    predicted = np.asarray(labels)[best]
    truth_array = np.asarray(truth)
    matrix = confusion_matrix(truth_array, predicted, labels=labels)
    rows = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    present = sorted(set(truth))
    if len(present) < 2:
        auc = float("nan")
    elif len(labels) == 2:
        auc = roc_auc_score(truth_array == labels[1], scores[:, 1])
    else:
        columns = [labels.index(label) for label in present]
        picked = scores[:, columns] / scores[:, columns].sum(axis=1, keepdims=True)
        auc = roc_auc_score(truth_array, picked, multi_class="ovr", labels=present)
    metrics = Metrics(
        accuracy=round(float(accuracy_score(truth_array, predicted)), 4),
        f1_macro=round(float(f1_score(truth_array, predicted, average="macro")), 4),
        roc_auc=round(float(auc), 4) if np.isfinite(auc) else 0.0,
        confusion_matrix=ConfusionMatrix(
            labels=labels,
            counts=matrix.tolist(),
            normalized=np.round(matrix / rows, 4).tolist(),
        ),
        n_test=len(texts),
    )
    correct = predicted == truth_array
    ece, reliability = expected_calibration_error(scores.max(axis=1), correct)
    lengths = np.array([len(text.split()) for text in texts])
    card = ModelCard(
        evaluated_on=where,
        n_eval=len(texts),
        ece=ece,
        reliability=reliability,
        accuracy_by_length=accuracy_by_length(lengths, correct),
        limits=LIMITS,
    )
    return metrics, card


def drift_reference(
    model: Any, labels: list[str], texts: list[str]
) -> DriftReference | None:
    """``make drift``'s reference, P(positive) on the evaluation data (the pair only).

    ``unknown_share`` is 0: the log counts known features of hashed pipelines only.
    """
    if sorted(labels) != sorted(LABELS):
        return None
    scores = np.asarray(scores_of(model).predict_proba(texts))
    return score_reference(scores[:, labels.index("positive")], 0.0)


def prepare(
    path: Path,
    corpus: Path,
    data: Path | None = None,
    text: str = "text",
    label: str = "label",
    names: list[str] | None = None,
    calibrate: bool = False,
) -> Prepared:
    """Check, (calibrate,) evaluate and describe the model in ``path``.

    Raises:
        TrainingError: one line naming why it cannot be imported.
    """
    model = load_file(path)
    classes = check_servable(model)
    labels = label_names(classes, names)
    frame, where, source = evaluation_data(labels, data, text, label, corpus)
    calibrated_on = None
    if calibrate:
        if data is None:
            raise TrainingError("CALIBRATE=1 needs labelled data (DATA=..)")
        fit_on = known_labels(data, text, label, labels)
        if source == data:  # calibrate on the file's rest, measure on its slice
            fit_on, frame = split_eval_slice(fit_on)
            where = f"evaluation slice of {data.name}"
        model = calibrated(model, fit_on, classes, labels)
        calibrated_on = data.name
    kind = scores_of(model).kind
    metrics, card = measure(
        model, labels, list(frame["text"]), list(frame["label"]), where
    )
    sentiment = sorted(labels) == sorted(LABELS)
    if kind == UNCALIBRATED:
        note = (
            f"Scores are {kind}: not probabilities (CALIBRATE=1 with DATA fits them)."
        )
        card.limits = [*card.limits, note]
    run = ALWAYS + (SENTIMENT_ONLY if sentiment else [])
    card.limits = [
        *card.limits,
        f"The promotion gate's checks for it: {', '.join(run)}.",
    ]
    counts = frame["label"].value_counts().to_dict()
    info = DataInfo(
        path=source.name,
        sha256=sha256_of(source),
        rows_loaded=len(frame),
        rows_kept=len(frame),
        rows_train=0,
        rows_test=len(frame),
        label_counts={str(k): int(v) for k, v in counts.items()},
        fit_seconds=0.0,
        eval_share=None,
    )
    imported = Imported(
        source=path.name,
        sha256=sha256_of(path),
        estimator=estimator_name(model),
        classes=[str(c) for c in classes],
        scores=kind,
        calibrated_on=calibrated_on,
        evaluated_on=where,
        checks_run=run,
    )
    checks = Checks(cross_validation=False, calibration=True, behaviour=sentiment)
    reference = drift_reference(model, labels, list(frame["text"]))
    return Prepared(model, labels, metrics, card, info, checks, imported, reference)


def not_applicable(imported: Imported | None) -> set[str]:
    """The checks ``make promote`` does not ask of a model (none of a trained one)."""
    if imported is None:
        return set()
    skipped = {"cross-validation"}
    if "behaviour" not in imported.checks_run:
        skipped.add("behaviour suite")
    return skipped

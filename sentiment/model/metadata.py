"""The typed metadata ``train.py`` writes beside every model and the service reads back.

Each record is a pydantic model, so what a model carries (metrics, data, checks,
card) is validated on save and on load; :mod:`sentiment.model.artifact` stores and
reads them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ConfusionMatrix(BaseModel):
    """Rows are true labels, columns predicted labels, both in ``labels`` order."""

    labels: list[str]
    counts: list[list[int]]
    normalized: list[list[float]]


class Metrics(BaseModel):
    """Held-out metrics of the saved model."""

    accuracy: float
    f1_macro: float
    roc_auc: float
    confusion_matrix: ConfusionMatrix
    n_test: int


class DataInfo(BaseModel):
    """Where the training data came from and what was kept of it."""

    path: str
    sha256: str
    rows_loaded: int
    rows_kept: int
    rows_train: int
    rows_test: int
    label_counts: dict[str, int]
    dropped_by_rule: dict[str, int] = Field(default_factory=dict)
    fit_seconds: float
    eval_share: float | None = None  # None: trained before the evaluation slice


class CrossValidation(BaseModel):
    """Accuracy of the chosen configuration over stratified folds of the corpus."""

    folds: int
    accuracy_mean: float
    accuracy_std: float
    # The same seed and data give the same folds: the gate pairs two models'
    # fold accuracies then (empty for models trained before they were kept).
    seed: int | None = None
    fold_accuracies: list[float] = Field(default_factory=list)


class DriftReference(BaseModel):
    """The held-out predictions the drift report compares the log with."""

    positive_share: float
    score_edges: list[float]
    score_counts: list[int]
    unknown_share: float


class ReliabilityBin(BaseModel):
    """Reviews whose positive probability fell in ``[low, high)``."""

    low: float
    high: float
    count: int
    mean_predicted: float | None = None
    share_positive: float | None = None


class LengthBucket(BaseModel):
    """Accuracy on reviews of ``min_words`` to ``max_words`` words."""

    min_words: int
    max_words: int | None = None
    count: int
    accuracy: float | None = None


class ModelCard(BaseModel):
    """What a user of the model should know, measured on the evaluation slice.

    (Optional fields default to None: BentoML's metadata cannot store None.)
    """

    evaluated_on: str
    n_eval: int
    ece: float
    reliability: list[ReliabilityBin]
    accuracy_by_length: list[LengthBucket]
    limits: list[str]


class Checks(BaseModel):
    """Which of ``train.py``'s checks a model has had.

    Every model is measured on the evaluation slice (accuracy, the model card);
    ``train.py --quick`` (a first model for `make serve`) skips the
    cross-validation and the behaviour suite, which `make promote` requires.
    """

    cross_validation: bool
    calibration: bool  # the card: reliability and accuracy by length on the slice
    behaviour: bool

    def missing(self) -> list[str]:
        """The checks not had, as the card names them (empty: every check)."""
        names = {
            "cross_validation": "cross-validation",
            "calibration": "calibration",
            "behaviour": "behaviour suite",
        }
        return [names[key] for key, had in self.model_dump().items() if not had]


class Imported(BaseModel):
    """A model brought with ``make import``, not trained by ``train.py``."""

    source: str  # the file's name
    sha256: str  # of the file as given
    estimator: str  # the class of the object, e.g. Pipeline(TfidfVectorizer, LinearSVC)
    classes: list[
        str
    ]  # its classes_ as it has them; the served labels are metadata.labels
    scores: str  # sentiment.model.decision.PROBABILITIES or UNCALIBRATED
    calibrated_on: str | None = None  # CALIBRATE=1: the file its scores were fitted on
    evaluated_on: str  # what the metrics and the card were measured on
    checks_run: list[str]  # the gate's checks that apply to it


class ModelMetadata(BaseModel):
    """What ``train.py`` stores with the model and the service reads back."""

    model_config = ConfigDict(extra="allow")

    metrics: Metrics
    params: dict[str, Any]
    data: DataInfo
    labels: list[str]
    versions: dict[str, str]
    git_commit: str
    preset: str | None = None
    cv: CrossValidation | None = None
    reference: DriftReference | None = None
    artifact_sha256: str | None = None
    behaviour: dict[str, float] | None = None
    card: ModelCard | None = None
    checks: Checks
    imported: Imported | None = None  # make import: not trained by train.py

    @model_validator(mode="before")
    @classmethod
    def _checks_from_results(cls, data: Any) -> Any:
        """A model saved before checks were recorded had those it kept results of."""
        if isinstance(data, dict) and "checks" not in data:
            had = {
                "cross_validation": data.get("cv") is not None,
                "calibration": data.get("card") is not None,
                "behaviour": data.get("behaviour") is not None,
            }
            data = {**data, "checks": had}
        return data

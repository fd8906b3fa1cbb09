"""The contract between ``train.py`` and the service: one artifact, typed metadata.

``train.py`` saves the fitted scikit-learn ``Pipeline`` as :data:`MODEL_FILE` in a
BentoML model and writes a :class:`ModelMetadata` next to it; the service reads
both back through :class:`StoreModel`, which refuses (with one line naming the
fix) a model that is missing, corrupt or made by another scikit-learn.
"""

from __future__ import annotations

import hashlib
import logging
from importlib.metadata import version
from pathlib import Path
from typing import Any

import bentoml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentiment.config import bentoml_home
from sentiment.errors import StartupError
from sentiment.model.imported import Imported
from sentiment.telemetry.logs import SERVICE_LOGGER

MODEL_FILE = "pipeline.joblib"
LABELS = ("negative", "positive")  # index 1 is the positive class
STARTUP_EXIT_CODE = 1  # what `bentoml serve` and its workers exit with on StartupError

logger = logging.getLogger(SERVICE_LOGGER)


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


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def without_none(value: Any) -> Any:
    """``value`` with None-valued keys dropped: BentoML metadata refuses None."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


def save_model(pipeline: Any, name: str, metadata: ModelMetadata) -> str:
    """Save a fitted pipeline and its metadata to the model store.

    Returns:
        The new model's tag, e.g. ``sentiment:abc123``.
    """
    import joblib

    labels = {"task": "sentiment-classification", "framework": "scikit-learn"}
    payload = without_none(metadata.model_dump(mode="json"))
    with bentoml.models.create(name, labels=labels, metadata=payload) as model:
        artifact = Path(model.path_of(MODEL_FILE))
        # Hashed weights are mostly zeros: compressed, 16.8 MB -> 1.8 MB on disk
        # and in the image, for 5 ms more at load.
        joblib.dump(pipeline, artifact, compress=3)
        model.info.metadata["artifact_sha256"] = sha256_of(artifact)
    return str(model.tag)


def read_metadata(model: Any) -> ModelMetadata:
    """The typed metadata of a stored model.

    Raises:
        StartupError: the metadata does not follow the contract.
    """
    try:
        return ModelMetadata.model_validate(model.info.metadata)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise StartupError(
            f"cannot serve model {model.tag}: its metadata breaks the contract "
            f"({where}: {first['msg']}); retrain with `make train`"
        ) from None


def check_artifact(model: Any) -> None:
    """Refuse a model whose file is missing, corrupt, or made by another sklearn.

    A hash, not an unpickle: cheap enough for `bentoml serve` to run before any
    worker starts, so a bad model is one error line and exit 1.

    Raises:
        StartupError: naming the model and what is wrong with it.
    """
    path = Path(model.path_of(MODEL_FILE))
    metadata = read_metadata(model)
    trained = metadata.versions.get("scikit-learn")
    serving = version("scikit-learn")  # not `import sklearn`: 1 s the server can skip
    problem = None
    if not path.is_file():
        problem = f"{MODEL_FILE} is missing"
    elif trained and trained != serving:
        problem = f"trained with scikit-learn {trained}, this server has {serving}"
    elif metadata.artifact_sha256 and metadata.artifact_sha256 != sha256_of(path):
        problem = f"{MODEL_FILE} is corrupt (sha256 differs from the one saved)"
    if problem:
        raise StartupError(
            f"cannot serve model {model.tag}: {problem}; retrain with `make train`"
        )


CHECKED_TAGS: set[str] = set()  # models check_artifact has passed in this process


class StoreModel(bentoml.models.BentoModel):
    """A model from the local store only, checked before use.

    BentoML's own error for a missing tag tries BentoCloud first and never says
    how to get the model; this one names the tag and the store, and says to train.
    """

    def missing(self) -> StartupError:
        """The error for a tag that is not in the store."""
        home = bentoml_home()
        return StartupError(
            f"model {str(self.tag)!r} not found in the model store ({home}): "
            "train one with `make train`, or set SENTIMENT_MODEL_TAG to a tag "
            "that `bentoml models list` shows"
        )

    def checked(self) -> Any:
        """The stored model, after :func:`check_artifact` (once per process per tag).

        Raises:
            StartupError: the tag is not in the store, or its artifact is bad.
        """
        stored = self.stored
        if stored is None:
            raise self.missing()
        if str(stored.tag) not in CHECKED_TAGS:
            check_artifact(stored)
            CHECKED_TAGS.add(str(stored.tag))
        return stored

    def to_info(self, alias: str | None = None) -> Any:
        """Describe the stored model for `bentoml build` and `serve`, once checked."""
        self.checked()
        return super().to_info(alias)

    def resolve(self, base_path: Any = None, *args: Any, **kwargs: Any) -> Any:
        """The stored model, once checked; never a remote download."""
        self.checked()
        return super().resolve(base_path, *args, **kwargs)


def load_pipeline(model: Any) -> Any:
    """Unpickle the stored pipeline.

    Raises:
        StartupError: the pickle does not load (corrupt, or incompatible libraries).
    """
    import joblib

    path = model.path_of(MODEL_FILE)
    try:
        pipeline = joblib.load(path)
        pipeline.classes_  # noqa: B018 - a fitted classifier has classes_
    except Exception as exc:  # a corrupt or incompatible pickle raises anything
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        raise StartupError(
            f"cannot load model {model.tag} from {path}: {type(exc).__name__}: "
            f"{first_line} (corrupt file or incompatible library versions? "
            "retrain with `make train`)"
        ) from None
    return pipeline


def exit_on_startup_error(error: StartupError) -> None:
    """Log a startup error as one line and exit with :data:`STARTUP_EXIT_CODE`."""
    logger.error("startup failed: %s", error)
    raise SystemExit(STARTUP_EXIT_CODE)


def describe_model(model: Any) -> dict[str, Any]:
    """What ``GET /model-info`` shows about the live model."""
    metadata = read_metadata(model)
    metrics = metadata.metrics
    return {
        "tag": str(model.tag),
        "trained_at": model.info.creation_time.isoformat(),
        "metrics": {
            "accuracy": metrics.accuracy,
            "f1_macro": metrics.f1_macro,
            "roc_auc": metrics.roc_auc,
            "n_test": metrics.n_test,
        },
        "labels": metadata.labels,
        "preset": metadata.preset,
        "params": metadata.params,
        "cv": metadata.cv.model_dump() if metadata.cv else None,
        "behaviour": metadata.behaviour,
        "card": metadata.card.model_dump() if metadata.card else None,
        "checks": metadata.checks.model_dump(),
        "imported": metadata.imported.model_dump() if metadata.imported else None,
        "data_sha256": metadata.data.sha256,
        "git_commit": metadata.git_commit,
        "versions": metadata.versions,
    }

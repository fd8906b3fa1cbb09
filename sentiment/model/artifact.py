"""The contract between ``train.py`` and the service: one artifact, typed metadata.

``train.py`` saves the fitted scikit-learn ``Pipeline`` as :data:`MODEL_FILE` in a
BentoML model with its :mod:`~sentiment.model.metadata` records; the service reads
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
from pydantic import ValidationError

from sentiment.config import bentoml_home
from sentiment.errors import StartupError
from sentiment.model.metadata import ModelMetadata
from sentiment.telemetry.logs import SERVICE_LOGGER

MODEL_FILE = "pipeline.joblib"
LABELS = ("negative", "positive")  # index 1 is the positive class
STARTUP_EXIT_CODE = 1  # what `bentoml serve` and its workers exit with on StartupError

logger = logging.getLogger(SERVICE_LOGGER)


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
    info: dict[str, Any] = {
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
        "data_sha256": metadata.data.sha256,
        "git_commit": metadata.git_commit,
        "versions": metadata.versions,
    }
    if metadata.imported is not None:  # the trained model's answer stays as it was
        info["imported"] = metadata.imported.model_dump()
    return info

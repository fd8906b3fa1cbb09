"""What a worker loads: the model, its fast path, its explainer, its log.

Imported only in the workers (through ``sentiment.lifecycle.live``): the `bentoml serve`
process that reads ``service.py`` never imports scikit-learn (1 s of start-up
saved).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sentiment import errors
from sentiment.config import Settings
from sentiment.model import artifact
from sentiment.model.decision import PROBABILITIES, Scores
from sentiment.model.linear_explain import LinearExplainer
from sentiment.model.scorer import LinearScorer, known_feature_counts, scores
from sentiment.telemetry.prediction_log import WORKER_LOGS, KnownFeatures, for_worker

WARM_UP = ["a wonderful, moving film", "a dull, lifeless mess"]


@dataclass
class LoadedModel:
    """The live model and everything derived from it."""

    pipeline: Any
    predict_proba: Callable[[list[str]], Any]
    classes: list[str]
    info: dict[str, Any]
    explainer: LinearScorer | LinearExplainer | None
    known_features: KnownFeatures | None = None
    unexplained: str = ""  # why /explain cannot read this model (409), if it cannot

    @property
    def tag(self) -> str:
        """The model's store tag."""
        return str(self.info["tag"])


def load_model(model_ref: Any, settings: Settings) -> LoadedModel:
    """Load a stored pipeline, derive its fast paths and answer a warm-up request.

    Raises:
        StartupError: the pickle does not load, its metadata breaks the contract,
            its labels do not name its classes, or its warm-up answer is not
            one score per label and text.
    """
    pipeline = artifact.load_pipeline(model_ref)
    info = artifact.describe_model(model_ref)
    # One LinearScorer serves /classify and /explain: each holds a float64 copy
    # of the weights (16 MB for the default model) and its one-pass scorer's
    # float32 (IDF, IDF x weight) tables (another 16 MB).
    linear = LinearScorer(pipeline) if LinearScorer.supports(pipeline) else None
    scored = Scores(linear.predict_proba, PROBABILITIES) if linear else scores(pipeline)
    # The served labels are the metadata's, in classes_ order: an import may name
    # a model's 0/1 classes negative/positive (sentiment.training.importing).
    classes = [str(label) for label in info["labels"]]
    explainer: LinearScorer | LinearExplainer | None = linear
    unexplained = ""
    if linear is None:
        explainer, unexplained = LinearExplainer.build(pipeline, classes)
    loaded = LoadedModel(
        pipeline=pipeline,
        predict_proba=scored.predict_proba,
        classes=classes,
        info=info,  # an import's kind of scores is in its "imported" record
        explainer=explainer,
        known_features=known_feature_counts(pipeline)
        if settings.prediction_log
        else None,
        unexplained=unexplained,
    )
    warm_up(loaded)
    return loaded


def load_tag(tag: str, settings: Settings) -> LoadedModel:
    """Load a model by tag from the local store, checked like a starting server's.

    Raises:
        StartupError: not in the store, or fails :func:`load_model`'s checks.
    """
    return load_model(artifact.StoreModel(tag).checked(), settings)


def warm_up(loaded: LoadedModel) -> None:
    """Answer canned reviews once; refuse a model whose answer breaks the API.

    Raises:
        StartupError: labels that are not one distinct name per class, or an
            answer that is not one finite score per label and review.
    """
    classes = loaded.classes
    n_classes = len(getattr(loaded.pipeline, "classes_", classes))
    problem = None
    if len(classes) != n_classes or len(set(classes)) != n_classes or n_classes < 2:
        problem = f"labels {classes} do not name its {n_classes} classes once each"
    else:
        try:
            proba = np.asarray(loaded.predict_proba(WARM_UP))
        except Exception as exc:  # a foreign model raises anything: one line
            proba = None
            problem = f"warm-up failed: {type(exc).__name__}: {exc}"[:300]
        if proba is not None and (
            proba.shape != (len(WARM_UP), len(classes)) or not np.isfinite(proba).all()
        ):
            problem = f"warm-up answer of shape {proba.shape}, not finite scores"
    if problem:
        raise errors.StartupError(f"cannot serve model {loaded.tag}: {problem}")


def start_worker(model_ref: Any, settings: Settings, worker: int | None) -> LoadedModel:
    """The first model of a worker (exit with one line if it cannot load), its log."""
    try:
        loaded = load_model(model_ref, settings)
    except errors.StartupError as error:
        artifact.exit_on_startup_error(error)
    if log := for_worker(settings, loaded.tag, worker, loaded.known_features):
        WORKER_LOGS.append(log)
    freeze_heap(settings.gc_threshold)
    return loaded


def freeze_heap(threshold: int) -> None:
    """Freeze what lives for good; collect the young generation less often.

    The model's objects never die: frozen, full collections stop walking them.
    Python's default (a young collection every 700 net allocations, 10, 10) cost
    a worker 30% of its time under overload, where thousands of waiting requests
    survive and get promoted (docs/overload.md); ``threshold`` young allocations
    between collections, with 20 of each older generation's, cut it to about 5%.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, 20, 20)

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
from sentiment.model.scorer import LinearScorer, known_feature_counts, scorer
from sentiment.telemetry.prediction_log import WORKER_LOGS, KnownFeatures, for_worker

WARM_UP = ["a wonderful, moving film", "a dull, lifeless mess"]


@dataclass
class LoadedModel:
    """The live model and everything derived from it."""

    pipeline: Any
    predict_proba: Callable[[list[str]], Any]
    classes: list[str]
    info: dict[str, Any]
    explainer: LinearScorer | None
    known_features: KnownFeatures | None = None

    @property
    def tag(self) -> str:
        """The model's store tag."""
        return str(self.info["tag"])


def load_model(model_ref: Any, settings: Settings) -> LoadedModel:
    """Load a stored pipeline, derive its fast paths and answer a warm-up request.

    Raises:
        StartupError: the pickle does not load, its metadata breaks the contract,
            its labels are not :data:`artifact.LABELS`, or its warm-up answer is
            not one probability pair per text.
    """
    pipeline = artifact.load_pipeline(model_ref)
    info = artifact.describe_model(model_ref)
    # One LinearScorer serves /classify and /explain: each holds a float64 copy
    # of the weights (16 MB for the default model) and its one-pass scorer's
    # float32 (IDF, IDF x weight) tables (another 16 MB).
    linear = LinearScorer(pipeline) if LinearScorer.supports(pipeline) else None
    loaded = LoadedModel(
        pipeline=pipeline,
        predict_proba=linear.predict_proba if linear else scorer(pipeline),
        classes=[str(label) for label in pipeline.classes_],
        info=info,
        explainer=linear,
        known_features=known_feature_counts(pipeline)
        if settings.prediction_log
        else None,
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
        StartupError: other labels than :data:`artifact.LABELS`, or an answer that
            is not one finite probability pair per review.
    """
    problem = None
    if tuple(loaded.classes) != artifact.LABELS:
        problem = f"labels {loaded.classes}, the API serves {list(artifact.LABELS)}"
    else:
        proba = np.asarray(loaded.predict_proba(WARM_UP))
        if proba.shape != (len(WARM_UP), 2) or not np.isfinite(proba).all():
            problem = f"warm-up answer of shape {proba.shape}, not finite pairs"
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

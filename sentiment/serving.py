"""What a worker loads at start: the model, its fast path, its explainer, its log.

Imported only inside the service's ``__init__``, which runs in the workers: the
`bentoml serve` process that reads ``service.py`` never imports scikit-learn
(1 s of start-up saved).
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sentiment import artifact
from sentiment.config import Settings
from sentiment.model import LinearScorer, known_feature_counts, scorer
from sentiment.prediction_log import WORKER_LOGS, for_worker


@dataclass
class LoadedModel:
    """The live model and everything derived from it."""

    pipeline: Any
    predict_proba: Callable[[list[str]], Any]
    classes: list[str]
    info: dict[str, Any]
    explainer: LinearScorer | None


def load_model(model_ref: Any, settings: Settings, worker: int | None) -> LoadedModel:
    """Load the stored pipeline (exit with one line if it cannot be), open the log."""
    try:
        pipeline = artifact.load_pipeline(model_ref)
    except artifact.StartupError as error:
        artifact.exit_on_startup_error(error)
    info = artifact.describe_model(model_ref)
    # One LinearScorer serves /classify and /explain: each holds a float64 copy
    # of the weights (16 MB for the default model).
    linear = LinearScorer(pipeline) if LinearScorer.supports(pipeline) else None
    known = known_feature_counts(pipeline) if settings.prediction_log else None
    if log := for_worker(settings, info["tag"], worker, known):
        WORKER_LOGS.append(log)
    # The model's objects never die: frozen, full collections stop walking them.
    gc.collect()
    gc.freeze()
    return LoadedModel(
        pipeline=pipeline,
        predict_proba=linear.predict_proba if linear else scorer(pipeline),
        classes=[str(label) for label in pipeline.classes_],
        info=info,
        explainer=linear,
    )

"""The model a worker serves now, swapped whole when the production pointer moves.

Each worker polls the ``production`` pointer (``sentiment.lifecycle.registry``) every
``SENTIMENT_MODEL_POLL_S`` seconds. When it names another model, the worker
loads it in a background thread, checks it (sha256 and metadata, labels, a
warm-up answer) and only then replaces :attr:`LiveModel.current` in one
assignment: a batch reads the model once, so every request is answered wholly
by the old model or wholly by the new one, and none waits for the load. A model
that fails its checks is refused, logged once and counted; the old one keeps
serving.

Light at import: scikit-learn is imported by ``sentiment.lifecycle.loading``, inside the
functions that load, so middlewares can import :func:`active_tag` in the
`bentoml serve` process that never loads a model.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from sentiment.config import Settings
from sentiment.errors import StartupError
from sentiment.lifecycle import registry
from sentiment.model.explain import explain_or_refuse
from sentiment.model.labels import to_predictions
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import MODEL_SERVING, MODEL_SWAPS, PREDICTIONS

if TYPE_CHECKING:
    from sentiment.lifecycle.loading import LoadedModel
    from sentiment.lifecycle.shadow import Shadow

logger = logging.getLogger(SERVICE_LOGGER)
ACTIVE: LiveModel | None = None  # this worker's, once its model is loaded


def active_tag() -> str:
    """The tag of the model this worker serves now (empty before one loads)."""
    return ACTIVE.current.tag if ACTIVE else ""


def active_labels() -> list[str]:
    """The labels of the model this worker serves now, in its order (empty before)."""
    return list(ACTIVE.current.classes) if ACTIVE else []


def active_version() -> str:
    """The version part of :func:`active_tag` (empty before a model loads)."""
    return active_tag().partition(":")[2]


class LiveModel:
    """Holds the serving model; :meth:`poll` swaps it when production moves."""

    def __init__(
        self, loaded: LoadedModel, choice: registry.ServingChoice, settings: Settings
    ) -> None:
        self.current = loaded
        self.choice = choice
        self.settings = settings
        self.refused: set[str] = set()
        self.lock = threading.Lock()

    @property
    def name(self) -> str:
        """The model name whose pointer this worker follows."""
        return self.settings.model_name

    def info(self) -> dict[str, Any]:
        """What ``/model-info`` shows: the model, and whether it is production."""
        production: bool | None = None  # a bento cannot know: it has no pointer
        if self.choice.reason != "packed":
            production = self.current.tag == registry.production_tag(self.name)
        return {
            **self.current.info,
            "production": production,
            "chosen_by": self.choice.reason,
        }

    def poll(self) -> bool:
        """Swap to the production model if the pointer names another one.

        Returns:
            Whether a new model now serves.
        """
        tag = registry.production_tag(self.name)
        if not tag or tag == self.current.tag or tag in self.refused:
            return False
        return self.swap_to(tag)

    def swap_to(self, tag: str) -> bool:
        """Load, check and swap in ``tag``; on any failure keep the current model."""
        from sentiment.lifecycle.loading import load_tag
        from sentiment.telemetry.prediction_log import WORKER_LOGS

        with self.lock:
            started = time.perf_counter()
            old = self.current.tag
            try:
                loaded = load_tag(tag, self.settings)
            except StartupError as error:
                self.refused.add(tag)
                MODEL_SWAPS.labels(outcome="refused").inc()
                logger.error("model swap refused, still serving %s: %s", old, error)
                return False
            self.current = loaded
            self.choice = registry.ServingChoice(loaded.tag, "production")
            MODEL_SERVING.labels(tag=old).set(0)
            MODEL_SERVING.labels(tag=loaded.tag).set(1)
            for log in WORKER_LOGS:
                log.known_features = loaded.known_features
            MODEL_SWAPS.labels(outcome="swapped").inc()
            logger.info(
                "model swapped: %s -> %s (loaded and checked in %.2fs)",
                old,
                loaded.tag,
                time.perf_counter() - started,
            )
            return True

    def watch(self, interval_s: float) -> threading.Thread:
        """Poll the pointer every ``interval_s`` seconds in a daemon thread."""

        def run() -> None:
            while True:
                time.sleep(interval_s)
                try:
                    self.poll()
                except Exception:  # a watcher that dies would silently stop swaps
                    logger.exception("model watcher: poll failed; retrying")

        thread = threading.Thread(target=run, name="model-watcher", daemon=True)
        thread.start()
        return thread


def start(
    model_ref: Any,
    choice: registry.ServingChoice,
    settings: Settings,
    worker: int | None,
) -> LiveModel:
    """Load this worker's first model, say which and why, and start watching."""
    global ACTIVE
    from sentiment.lifecycle.loading import start_worker

    live = LiveModel(start_worker(model_ref, settings, worker), choice, settings)
    ACTIVE = live
    MODEL_SERVING.labels(tag=live.current.tag).set(1)
    for outcome in ("swapped", "refused"):  # exported at 0 before the first swap
        MODEL_SWAPS.labels(outcome=outcome)
    if worker in (None, 1):  # once per server, not once per worker
        log_choice(live)
    if choice.follows_production and settings.model_poll_s > 0:
        live.watch(settings.model_poll_s)
    return live


def log_choice(live: LiveModel) -> None:
    """Say which model serves and why; warn when it is only the newest."""
    tag, reason = live.current.tag, live.choice.reason
    if reason == "newest":
        logger.warning(
            "no production model in the store (%s missing): serving the newest, "
            "%s; `make promote` chooses one",
            registry.pointer_path(live.name),
            tag,
        )
    elif reason == "packed":
        logger.info("serving %s, packed in this bento when it was built", tag)
    elif reason == "pinned":
        logger.info("serving %s, pinned by SENTIMENT_MODEL_TAG (no live swaps)", tag)
    else:
        logger.info("serving the production model %s (follows make promote)", tag)


def predictions(
    model: LoadedModel, texts: list[str], shadow: Shadow | None = None
) -> list[dict[str, Any]]:
    """``model``'s answers to validated texts; labels counted, shadow fed.

    Plain dicts built in one pass (:func:`sentiment.model.labels.to_predictions`);
    the edge sends them as they are (:class:`sentiment.http.handlers.Classify`).
    """
    if not texts:
        return []
    proba = model.predict_proba(texts)
    answers = to_predictions(proba, model.classes)
    if shadow is not None:
        shadow.submit(texts, proba, model.classes, model.tag)
    counts = proba.argmax(axis=1).tolist()
    for column, label in enumerate(model.classes):
        if count := counts.count(column):
            PREDICTIONS.labels(label=label).inc(count)
    return answers


def explanations(
    model: LoadedModel, texts: list[str], top: int, max_chars: int
) -> list[Any]:
    """``model``'s explanations of validated texts, or its 400 or 409."""
    return explain_or_refuse(
        model.explainer,
        model.tag,
        model.classes,
        texts,
        top,
        max_chars,
        model.unexplained,
        model.predict_proba,
    )


def active_info() -> dict[str, Any]:
    """``GET /model-info``: the model this worker serves, and if it is production."""
    return ACTIVE.info() if ACTIVE else {}

"""Shadow scoring: a second model scores what the live one answered, off the path.

With ``SENTIMENT_SHADOW_TAG`` set, each worker loads that model too. After a
batch is answered, :meth:`Shadow.submit` hands its texts and scores to a bounded
queue (no copy, no wait) and a background thread scores them with the shadow
model: agreement and the shadow's scores go to Prometheus, and one line per
review to the prediction log (``"kind": "shadow"``), which ``make shadow-report``
reads. The thread computes at most ``SENTIMENT_SHADOW_DUTY`` of the time
(the file jobs' throttle): when traffic leaves the CPU idle it scores every
batch, at capacity it scores what that share of one core allows, and the rest
is dropped and counted, never queued without bound. The clients never wait for
the shadow, and its cost has a ceiling by construction.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from sentiment import errors
from sentiment.config import Settings
from sentiment.jobs.runner import Throttle
from sentiment.model.labels import best_labels
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import SHADOW_AGREEMENT, SHADOW_DROPPED, SHADOW_SCORE
from sentiment.telemetry.prediction_log import WORKER_LOGS

if TYPE_CHECKING:
    from sentiment.lifecycle.loading import LoadedModel

logger = logging.getLogger(SERVICE_LOGGER)
# time, texts, the live model's scores (one column per label), its labels, its tag
Batch = tuple[float, list[str], Any, list[str], str]
COALESCE_S = 0.05  # the shadow thread gathers batches this long before scoring
MAX_COALESCED = 64  # batches scored in one model call, at most


class Shadow:
    """A second model scoring sampled batches in a background thread."""

    def __init__(
        self, model: LoadedModel, sample: float, duty: float = 1.0, queue_size: int = 64
    ) -> None:
        self.model = model
        self.sample = sample
        self.throttle = Throttle(duty) if duty < 1.0 else None
        self.queue: queue.Queue[Batch] = queue.Queue(queue_size)
        self.thread = threading.Thread(target=self.run, name="shadow", daemon=True)
        self.thread.start()

    def submit(
        self, texts: list[str], proba: Any, classes: list[str], live_tag: str
    ) -> None:
        """Queue an answered batch for the shadow; never blocks, never raises."""
        if self.sample < 1.0 and random.random() >= self.sample:  # noqa: S311  # nosec B311
            return
        try:
            self.queue.put_nowait((time.time(), texts, proba, classes, live_tag))
        except queue.Full:
            SHADOW_DROPPED.inc(len(texts))

    def run(self) -> None:
        """The shadow thread: score what has queued in one call, record it.

        It waits ``COALESCE_S`` first so small batches gather: one model call
        on 200 reviews costs a fraction of 20 calls on 10 (the model's own
        batching win, which the shadow should not give up).
        """
        while True:
            batches = [self.queue.get()]
            time.sleep(COALESCE_S)
            while len(batches) < MAX_COALESCED:
                try:
                    batches.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            if self.throttle is not None:
                self.throttle.begin()
            try:
                self.score(batches)
            except Exception:  # a bad batch must not stop the shadow
                logger.exception("shadow scoring failed for %d batches", len(batches))
            finally:
                for _ in batches:
                    self.queue.task_done()
            if self.throttle is not None:
                self.throttle(len(batches))

    def score(self, batches: list[Batch]) -> None:
        """Score queued batches with the shadow model; count, observe and log."""
        texts = [text for batch in batches for text in batch[1]]
        if not texts:
            return
        theirs = best_labels(
            np.asarray(self.model.predict_proba(texts)), self.model.classes
        )
        ours = [best_labels(np.asarray(b[2]), b[3]) for b in batches]
        live_labels = [label for labels, _ in ours for label in labels]
        live = np.concatenate([scores for _, scores in ours])
        shadow_labels, shadow = theirs
        agreed = sum(a == b for a, b in zip(live_labels, shadow_labels, strict=True))
        SHADOW_AGREEMENT.labels(agree="true").inc(agreed)
        SHADOW_AGREEMENT.labels(agree="false").inc(len(texts) - agreed)
        for value in shadow:
            SHADOW_SCORE.observe(value)
        if not WORKER_LOGS:
            return
        start = 0
        for stamp, batch_texts, _, _, live_tag in batches:
            end = start + len(batch_texts)
            for log in WORKER_LOGS:
                log.record_lines(
                    shadow_lines(
                        stamp,
                        batch_texts,
                        list(zip(live_labels[start:end], live[start:end], strict=True)),
                        list(
                            zip(
                                shadow_labels[start:end], shadow[start:end], strict=True
                            )
                        ),
                        live_tag,
                        self.model.tag,
                        log,
                    )
                )
            start = end


def shadow_lines(
    stamp: float,
    texts: list[str],
    live: Any,
    shadow: Any,
    live_tag: str,
    shadow_tag: str,
    log: Any,
) -> list[str]:
    """One prediction-log line per review: both models' labels and scores.

    ``live`` and ``shadow``: ``(label, probability of the label)`` per review.
    """
    head = (
        f'{{"time": {stamp:.3f}, "kind": "shadow", "model": {json.dumps(live_tag)}, '
        f'"shadow_model": {json.dumps(shadow_tag)}'
    )
    lines = []
    for text, (label, ours), (their_label, theirs) in zip(
        texts, live, shadow, strict=True
    ):
        lines.append(
            f'{head}, "label": {json.dumps(label)}, "score": {float(ours)!r}, '
            f'"shadow_label": {json.dumps(their_label)}, '
            f'"shadow_score": {float(theirs)!r}, '
            f"{log.text_field(str(text).strip())}}}\n"
        )
    return lines


def start(settings: Settings) -> Shadow | None:
    """Load the shadow model of ``SENTIMENT_SHADOW_TAG`` (exit if it cannot load)."""
    tag = settings.shadow_tag
    if not tag:
        return None
    from sentiment.lifecycle.loading import load_tag
    from sentiment.model import artifact

    try:
        model = load_tag(tag, settings)
    except errors.StartupError as error:
        artifact.exit_on_startup_error(error)
    sample, duty = settings.shadow_sample, settings.shadow_duty
    logger.info(
        "shadow scoring with %s (sample %.0f%% of batches, at most %.0f%% of a core)",
        tag,
        sample * 100,
        duty * 100,
    )
    return Shadow(model, sample, duty)

"""Unit tests for shadow scoring: off the path, compared, logged, bounded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sentiment.config import Settings
from sentiment.lifecycle import shadow
from sentiment.lifecycle.loading import LoadedModel
from sentiment.telemetry.prediction_log import WORKER_LOGS, LogOptions, PredictionLog

PAIR = ["negative", "positive"]


def constant_model(positive: float) -> LoadedModel:
    def predict_proba(texts: list[str]) -> np.ndarray:
        return np.tile([1 - positive, positive], (len(texts), 1))

    return LoadedModel(
        None, predict_proba, ["negative", "positive"], {"tag": "s:2"}, None
    )


@pytest.fixture
def log(tmp_path: Path) -> Iterator[PredictionLog]:
    log = PredictionLog(LogOptions(tmp_path / "p.jsonl", "m:1", log_text=True))
    WORKER_LOGS.append(log)
    yield log
    WORKER_LOGS.remove(log)
    log.close()


def test_the_shadow_scores_and_logs_each_review(log: PredictionLog) -> None:
    model = constant_model(0.9)
    calls: list[int] = []
    score = model.predict_proba
    model.predict_proba = lambda texts: calls.append(len(texts)) or score(texts)
    runner = shadow.Shadow(model, sample=1.0)
    runner.submit(["good film"], np.array([[0.2, 0.8]]), PAIR, "m:1")
    runner.submit(["bad film"], np.array([[0.8, 0.2]]), PAIR, "m:1")
    runner.queue.join()
    assert sum(calls) == 2 and len(calls) <= 2  # gathered: usually one call
    log.flush()
    lines = [json.loads(line) for line in log.options.path.read_text().splitlines()]
    assert [(r["label"], r["shadow_label"]) for r in lines] == [
        ("positive", "positive"),
        ("negative", "positive"),
    ]
    assert {r["kind"] for r in lines} == {"shadow"}
    assert {(r["model"], r["shadow_model"]) for r in lines} == {("m:1", "s:2")}
    assert lines[1]["text"] == "bad film" and lines[1]["shadow_score"] == 0.9
    assert lines[1]["score"] == 0.8  # the probability of its label, as in the log


def test_the_shadow_compares_labels_of_any_classes(log: PredictionLog) -> None:
    """Three classes: agreement is the same label, whatever the columns."""

    def predict_proba(texts: list[str]) -> np.ndarray:
        return np.tile([0.2, 0.5, 0.3], (len(texts), 1))

    three = ["neg", "neutral", "pos"]
    runner = shadow.Shadow(
        LoadedModel(None, predict_proba, three, {"tag": "s:3"}, None), 1.0
    )
    runner.submit(
        ["x y z", "a b c"], np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]]), three, "m"
    )
    runner.queue.join()
    log.flush()
    lines = [json.loads(line) for line in log.options.path.read_text().splitlines()]
    assert [(r["label"], r["shadow_label"]) for r in lines] == [
        ("neutral", "neutral"),
        ("neg", "neutral"),
    ]


def test_a_full_queue_drops_instead_of_waiting() -> None:
    from sentiment.telemetry.metrics import SHADOW_DROPPED

    release, busy = threading.Event(), threading.Event()
    model = constant_model(0.5)
    score = model.predict_proba

    def blocked(texts: list[str]) -> np.ndarray:
        busy.set()
        release.wait(10)
        return score(texts)

    model.predict_proba = blocked
    runner = shadow.Shadow(model, sample=1.0, queue_size=1)
    # taken by the thread, which blocks
    runner.submit(["a"], np.array([[0.5, 0.5]]), PAIR, "m")
    assert busy.wait(10)
    runner.submit(["b"], np.array([[0.5, 0.5]]), PAIR, "m")  # fills the queue
    before = SHADOW_DROPPED._value.get()
    runner.submit(
        ["c", "d"], np.full((2, 2), 0.5), PAIR, "m"
    )  # returns at once, dropped
    assert SHADOW_DROPPED._value.get() == before + 2
    release.set()
    runner.queue.join()


def test_sampling_skips_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = shadow.Shadow(constant_model(0.5), sample=0.5)
    scored: list[list[str]] = []
    monkeypatch.setattr(
        runner, "score", lambda batches: scored.extend(b[1] for b in batches)
    )
    for draw, text in [(0.7, "skipped"), (0.2, "kept"), (0.5, "skipped too")]:
        monkeypatch.setattr(shadow.random, "random", lambda d=draw: d)
        runner.submit([text], np.array([[0.5, 0.5]]), PAIR, "m")
    runner.queue.join()
    assert scored == [["kept"]]


def test_no_tag_no_shadow() -> None:
    assert shadow.start(Settings()) is None


def test_the_duty_throttle_rests_after_each_scoring(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rests: list[int] = []
    runner = shadow.Shadow(constant_model(0.5), sample=1.0, duty=0.05)
    assert runner.throttle is not None and runner.throttle.duty == 0.05

    class Recorder:
        def begin(self) -> None:
            rests.append(0)

        def __call__(self, batches: int) -> None:
            rests.append(batches)

    monkeypatch.setattr(runner, "throttle", Recorder())
    runner.submit(["a"], np.array([[0.5, 0.5]]), PAIR, "m")
    runner.queue.join()
    time.sleep(0.05)  # the rest comes after task_done
    assert rests == [0, 1]  # begin, then rest after one batch
    assert shadow.Shadow(constant_model(0.5), sample=1.0).throttle is None

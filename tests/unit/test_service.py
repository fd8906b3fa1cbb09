"""Unit tests for service.py, the composition root, with a fake pipeline."""

from __future__ import annotations

import numpy as np

import service
from sentiment.connections import ConnectionRecycler
from sentiment.jobs import JobStatus
from sentiment.middleware import ClassifyGuard
from sentiment.oip import OpenInference
from sentiment.operator import OperatorEndpoints
from sentiment.request_ids import RequestIds


def test_predict_uses_pipeline_without_preprocessing() -> None:
    from sklearn.dummy import DummyClassifier

    dummy = DummyClassifier(strategy="prior").fit(
        [[0]] * 4, ["positive", "positive", "positive", "negative"]
    )

    class FakePipeline:
        classes_ = dummy.classes_
        seen: list[list[str]] = []

        def predict_proba(self, texts: list[str]) -> np.ndarray:
            self.seen.append(texts)
            return dummy.predict_proba([[0]] * len(texts))

    from sentiment.live import LiveModel
    from sentiment.registry import ServingChoice
    from sentiment.serving import LoadedModel

    pipeline = FakePipeline()
    instance = object.__new__(service.SentimentClassifier.inner)
    loaded = LoadedModel(
        pipeline, pipeline.predict_proba, list(dummy.classes_), {}, None
    )
    instance.live = LiveModel(loaded, ServingChoice("m:1", "pinned"), service.SETTINGS)
    instance.shadow = None
    assert instance.model is loaded
    out = instance.predict(["  raw text ", "another"])
    assert FakePipeline.seen == [["  raw text ", "another"]]
    assert [p["label"] for p in out] == ["positive", "positive"]
    assert out[0]["score"] == 0.75
    assert instance.predict([]) == [] and len(FakePipeline.seen) == 1


def test_middlewares_run_in_the_documented_order() -> None:
    order = [cls for cls, _ in service.SentimentClassifier.middlewares]
    assert order == [
        RequestIds,
        JobStatus,
        OperatorEndpoints,
        OpenInference,
        ClassifyGuard,
        ConnectionRecycler,
    ]


def test_the_guard_gets_the_service_settings() -> None:
    options = dict(service.SentimentClassifier.middlewares)[ClassifyGuard]
    assert options["settings"] is service.SETTINGS

"""Unit tests for service.py, the composition root, with a fake pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from bentoml.exceptions import InternalServerError, InvalidArgument

import service
from sentiment.http.oip import OpenInference
from sentiment.http.operator import OperatorEndpoints
from sentiment.jobs import runner
from sentiment.jobs.status import JobStatus
from sentiment.telemetry.request_ids import RequestIds


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

    from sentiment.lifecycle.live import LiveModel
    from sentiment.lifecycle.loading import LoadedModel
    from sentiment.lifecycle.registry import ServingChoice

    pipeline = FakePipeline()
    instance = object.__new__(service.SentimentClassifier.inner)
    loaded = LoadedModel(
        pipeline, pipeline.predict_proba, list(dummy.classes_), {}, None
    )
    instance.live = LiveModel(loaded, ServingChoice("m:1", "pinned"), service.SETTINGS)
    instance.shadow = None
    assert instance.model is loaded
    out = instance.classify(["  raw text ", "another"])
    assert FakePipeline.seen == [["  raw text ", "another"]]
    assert [p["label"] for p in out] == ["positive", "positive"]
    assert out[0]["score"] == 0.75
    assert instance.classify([]) == [] and len(FakePipeline.seen) == 1


def test_middlewares_run_in_the_documented_order() -> None:
    order = [cls for cls, _ in service.SentimentClassifier.middlewares]
    assert order == [
        RequestIds,
        JobStatus,
        OperatorEndpoints,
        OpenInference,
    ]


def test_a_job_that_cannot_run_records_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path))
    missing = ModuleNotFoundError("No module named 'pandas'")
    error = runner.job_failure("abc123", missing)
    assert isinstance(error, InternalServerError) and error.error_code == 500
    assert "ModuleNotFoundError: No module named 'pandas'" in str(error)
    record = json.loads((tmp_path / "sentiment-jobs" / "abc123.json").read_text())
    assert record["error"] == str(error) and record["pid"] is None


def test_a_bad_file_stays_the_clients_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentiment.errors import ScoringError

    monkeypatch.setenv("BENTOML_HOME", str(tmp_path))
    error = runner.job_failure("abc123", ScoringError("'x.csv' has no rows"))
    assert isinstance(error, InvalidArgument) and str(error) == "'x.csv' has no rows"
    assert not (tmp_path / "sentiment-jobs").exists(), "the job recorded it already"

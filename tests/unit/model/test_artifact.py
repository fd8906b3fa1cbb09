"""Unit tests for sentiment.model.artifact: the train-serve contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sklearn

from sentiment.errors import StartupError
from sentiment.model.artifact import (
    MODEL_FILE,
    StoreModel,
    check_artifact,
    read_metadata,
    sha256_of,
)
from sentiment.model.metadata import ModelMetadata

VALID_METADATA: dict[str, Any] = {
    "metrics": {
        "accuracy": 0.8,
        "f1_macro": 0.79,
        "roc_auc": 0.88,
        "confusion_matrix": {
            "labels": ["negative", "positive"],
            "counts": [[1, 0], [0, 1]],
            "normalized": [[1.0, 0.0], [0.0, 1.0]],
        },
        "n_test": 2,
    },
    "params": {"seed": 42},
    "data": {
        "path": "r.csv",
        "sha256": "0" * 64,
        "rows_loaded": 10,
        "rows_kept": 10,
        "rows_train": 8,
        "rows_test": 2,
        "label_counts": {"positive": 5, "negative": 5},
        "fit_seconds": 0.1,
    },
    "labels": ["negative", "positive"],
    "versions": {"scikit-learn": sklearn.__version__},
    "git_commit": "abc",
}


class FakeStoredModel:
    """Just enough of a BentoML stored model for check_artifact."""

    def __init__(self, directory: Path, metadata: dict[str, Any]) -> None:
        self.directory = directory
        self.tag = "sentiment:test"
        self.info = type("Info", (), {"metadata": metadata})()

    def path_of(self, name: str) -> str:
        return str(self.directory / name)


def test_check_artifact_accepts_a_matching_file(tmp_path: Path) -> None:
    (tmp_path / MODEL_FILE).write_bytes(b"model bytes")
    metadata = {**VALID_METADATA, "artifact_sha256": sha256_of(tmp_path / MODEL_FILE)}
    check_artifact(FakeStoredModel(tmp_path, metadata))


@pytest.mark.parametrize(
    ("write", "metadata", "message"),
    [
        (False, {}, "pipeline.joblib is missing"),
        (True, {"artifact_sha256": "0" * 64}, "is corrupt"),
        (
            True,
            {"versions": {"scikit-learn": "0.1.0"}},
            "trained with scikit-learn 0.1.0",
        ),
        (True, {"metrics": {"accuracy": "high"}}, "metadata breaks the contract"),
    ],
)
def test_check_artifact_refuses_bad_models(
    tmp_path: Path, write: bool, metadata: dict[str, Any], message: str
) -> None:
    if write:
        (tmp_path / MODEL_FILE).write_bytes(b"model bytes")
    with pytest.raises(StartupError, match=message) as info:
        check_artifact(FakeStoredModel(tmp_path, {**VALID_METADATA, **metadata}))
    assert "make train" in str(info.value)


def test_metadata_from_older_models_still_reads() -> None:
    metadata = read_metadata(FakeStoredModel(Path("."), VALID_METADATA))
    assert metadata.data.dropped_by_rule == {}
    assert metadata.artifact_sha256 is None


@pytest.mark.parametrize(
    ("stored", "had"),
    [
        ({}, {"cross_validation": False, "calibration": False, "behaviour": False}),
        (
            {"cv": {"folds": 5, "accuracy_mean": 0.8, "accuracy_std": 0.01}},
            {"cross_validation": True, "calibration": False, "behaviour": False},
        ),
        (
            {"behaviour": {"plain": 0.9}},
            {"cross_validation": False, "calibration": False, "behaviour": True},
        ),
    ],
)
def test_a_model_saved_before_checks_were_recorded_had_those_it_kept(
    stored: dict[str, Any], had: dict[str, bool]
) -> None:
    metadata = read_metadata(FakeStoredModel(Path("."), {**VALID_METADATA, **stored}))
    assert metadata.checks.model_dump() == had


def test_recorded_checks_win_and_name_what_is_missing() -> None:
    checks = {"cross_validation": False, "calibration": True, "behaviour": False}
    metadata = ModelMetadata.model_validate({**VALID_METADATA, "checks": checks})
    assert metadata.checks.missing() == ["cross-validation", "behaviour suite"]
    metadata = ModelMetadata.model_validate(
        {**VALID_METADATA, "checks": dict.fromkeys(checks, True)}
    )
    assert metadata.checks.missing() == []


def test_metadata_round_trips() -> None:
    metadata = ModelMetadata.model_validate(VALID_METADATA)
    assert ModelMetadata.model_validate(metadata.model_dump(mode="json")) == metadata


def test_missing_model_names_tag_store_and_fix() -> None:
    error = StoreModel("no-such-model:latest").missing()
    assert "'no-such-model:latest' not found in the model store" in str(error)
    assert "make train" in str(error)

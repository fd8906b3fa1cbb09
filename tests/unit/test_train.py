"""Unit tests for train.py: evaluation, the report and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import train
from sentiment.artifact import sha256_of
from sentiment.model import ModelParams, build_pipeline
from tests.conftest import PROJECT_DIR
from tests.unit.conftest import write_frame


def test_pipeline_learns_and_evaluate_reports_all_metrics(
    reviews: pd.DataFrame,
) -> None:
    pipeline = build_pipeline(ModelParams(char_min_df=1, n_features=1 << 12))
    pipeline.fit(list(reviews["text"]), reviews["label"])
    metrics = train.evaluate(pipeline, reviews["text"], reviews["label"])
    assert metrics["accuracy"] == 1.0
    assert metrics["f1_macro"] == 1.0
    assert metrics["roc_auc"] == 1.0
    assert metrics["confusion_matrix"]["labels"] == ["negative", "positive"]
    assert metrics["confusion_matrix"]["counts"] == [[8, 0], [0, 8]]
    assert metrics["n_test"] == 16


def test_evaluate_counts_mistakes() -> None:
    class AlwaysPositive:
        classes_ = ["negative", "positive"]

        def predict_proba(self, texts: list[str]) -> object:
            import numpy as np

            return np.tile([0.2, 0.8], (len(texts), 1))

    labels = pd.Series(["positive", "positive", "positive", "negative"])
    metrics = train.evaluate(AlwaysPositive(), pd.Series(["a"] * 4), labels)
    assert metrics["accuracy"] == 0.75
    assert metrics["confusion_matrix"]["counts"] == [[0, 1], [0, 3]]
    assert metrics["roc_auc"] == 0.5


def test_training_is_reproducible(reviews: pd.DataFrame, tmp_path: Path) -> None:
    path = write_frame(pd.concat([reviews] * 1), tmp_path / "r.csv")
    params = train.TrainParams(
        test_size=0.5,
        seed=3,
        model=ModelParams(char_min_df=1, n_features=1 << 12),
        cv_folds=2,
    )
    runs = [
        train.train(path, "text", "label", params, log=lambda _: None) for _ in "ab"
    ]
    (_, metrics_a, info_a, cv_a), (_, metrics_b, info_b, cv_b) = runs
    assert metrics_a == metrics_b
    assert cv_a == cv_b and cv_a is not None and cv_a.folds == 2
    assert info_a.model_dump(exclude={"fit_seconds"}) == info_b.model_dump(
        exclude={"fit_seconds"}
    )


def test_format_metrics_shows_table() -> None:
    table = train.format_metrics(
        {
            "accuracy": 0.8,
            "f1_macro": 0.75,
            "roc_auc": 0.9,
            "confusion_matrix": {
                "labels": ["negative", "positive"],
                "counts": [[3, 1], [1, 5]],
            },
        }
    )
    assert "accuracy        0.8000" in table
    assert "negative             3         1" in table


def models_in_store() -> list[str]:
    import bentoml

    return sorted(str(m.tag) for m in bentoml.models.list())


@pytest.mark.parametrize(
    ("make_input", "extra_args", "message"),
    [
        (lambda d: d / "absent.csv", [], "data file not found"),
        (lambda d: d / "r.xlsx", [], "unknown data format"),
        (lambda d: d / "r.csv", ["--label-column", "stars"], "missing column"),
        (lambda d: d / "one_class.csv", [], "need 2 classes"),
        (lambda d: d / "short.csv", [], "no reviews left"),
        (lambda d: d / "r.csv", ["--cv", "9"], "needs at least 9 reviews per class"),
    ],
)
def test_cli_errors_are_one_line_exit_2_and_write_nothing(
    reviews: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_input,
    extra_args: list[str],
    message: str,
) -> None:
    write_frame(reviews, tmp_path / "r.csv")
    (tmp_path / "r.xlsx").write_bytes(b"x")
    write_frame(reviews.assign(label="positive"), tmp_path / "one_class.csv")
    write_frame(reviews.assign(text="ab"), tmp_path / "short.csv")
    metrics_out = tmp_path / "metrics.json"
    before = models_in_store()

    code = train.main(
        ["--data", str(make_input(tmp_path)), "--metrics-out", str(metrics_out)]
        + extra_args
    )

    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("train.py: error: ")
    assert message in err
    assert models_in_store() == before
    assert not metrics_out.exists()


def test_cli_success_saves_model_with_metadata_and_metrics_file(
    reviews: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import bentoml

    data = write_frame(
        pd.concat([reviews, reviews.assign(text=reviews.text + " indeed")]),
        tmp_path / "r.csv",
    )
    metrics_out = tmp_path / "out" / "perf.json"
    code = train.main(
        [
            "--data",
            str(data),
            "--model-name",
            "unit-sentiment",
            "--test-size",
            "0.25",
            "--metrics-out",
            str(metrics_out),
            "--preset",
            "fast",
            "--cv",
            "2",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "loaded 32 rows" in out and "split: 24 train / 8 test" in out
    model = bentoml.models.get("unit-sentiment:latest")
    meta = model.info.metadata
    assert set(meta["metrics"]) >= {
        "accuracy",
        "f1_macro",
        "roc_auc",
        "confusion_matrix",
    }
    assert meta["data"]["sha256"] == sha256_of(data)
    assert meta["data"]["rows_kept"] == 32
    assert meta["params"]["seed"] == 42
    assert meta["preset"] == "fast" and "char_ngrams" not in meta["params"]["model"]
    assert meta["cv"]["folds"] == 2 and 0 <= meta["cv"]["accuracy_mean"] <= 1
    assert meta["versions"]["scikit-learn"]
    assert meta["git_commit"]
    saved = json.loads(metrics_out.read_text())
    assert saved["model"] == str(model.tag)
    assert saved["accuracy"] == meta["metrics"]["accuracy"]
    bentoml.models.delete(model.tag)


def test_cli_runs_as_script_with_help() -> None:
    result = subprocess.run(
        [sys.executable, "train.py", "--help"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    for flag in (
        "--data",
        "--text-column",
        "--label-column",
        "--model-name",
        "--test-size",
        "--seed",
        "--metrics-out",
    ):
        assert flag in result.stdout


def test_cli_script_exit_code_on_bad_input(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "train.py", "--data", str(tmp_path / "nope.csv")],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"train.py: error: data file not found: {tmp_path / 'nope.csv'}"
    ]

"""Unit tests for train.py: evaluation, the report and the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import train
from ops import promote
from sentiment.lifecycle import registry
from sentiment.model.artifact import read_metadata, sha256_of
from sentiment.training.pipeline import ModelParams
from tests.conftest import PROJECT_DIR
from tests.unit.conftest import write_frame


def test_training_is_reproducible(reviews: pd.DataFrame, tmp_path: Path) -> None:
    path = write_frame(pd.concat([reviews] * 1), tmp_path / "r.csv")
    params = train.TrainParams(
        eval_share=0.5,
        seed=3,
        model=ModelParams(char_min_df=1, n_features=1 << 12),
        cv_folds=2,
    )
    runs = [
        train.train(path, "text", "label", params, log=lambda _: None) for _ in "ab"
    ]
    first, second = runs
    assert first.metrics == second.metrics
    assert first.cv == second.cv and first.cv is not None and first.cv.folds == 2
    assert first.reference == second.reference
    assert sum(first.reference.score_counts) == 8  # the evaluation slice
    assert first.data_info.rows_test == 8 and first.card.n_eval == 8
    assert first.data_info.model_dump(exclude={"fit_seconds"}) == (
        second.data_info.model_dump(exclude={"fit_seconds"})
    )


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
        (
            lambda d: d / "r.csv",
            ["--cv", "9", "--eval-share", "0.5"],
            "needs at least 9",
        ),
        (lambda d: d / "r.csv", ["--eval-share", "0.25"], "evaluation slice"),
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
            "--eval-share",
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
    assert "loaded 32 rows" in out and "split: 24 train / 8 in the evaluation" in out
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
    assert set(meta["behaviour"]) >= {"plain", "negated_negative", "invariance"}
    assert all(0 <= rate <= 1 for rate in meta["behaviour"].values())
    assert "behaviour suite: plain" in out
    assert meta["versions"]["scikit-learn"]
    assert meta["git_commit"]
    assert read_metadata(model).card is not None  # survives the store's round trip
    card = meta["card"]
    assert card["n_eval"] == 8 and 0 <= card["ece"] <= 1
    assert sum(b["count"] for b in card["reliability"]) == 8
    assert sum(b["count"] for b in card["accuracy_by_length"]) == 8
    assert meta["checks"] == {
        "cross_validation": True,
        "calibration": True,
        "behaviour": True,
    }
    assert "fold 2/2: accuracy" in out  # a line per fold
    assert "saved candidate model" in out
    assert f"{model.tag} is the production model now" in out  # the store was empty
    assert "for the full report" not in out
    saved = json.loads(metrics_out.read_text())
    assert saved["model"] == str(model.tag)
    assert saved["accuracy"] == meta["metrics"]["accuracy"]
    bentoml.models.delete(model.tag)
    shutil.rmtree(registry.store_dir("unit-sentiment"), ignore_errors=True)


def test_train_serve_train_promote_rollback_returns_to_the_first_model(
    reviews: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import bentoml

    name = "unit-first-rollback"
    data = write_frame(
        pd.concat([reviews, reviews.assign(text=reviews.text + " indeed")]),
        tmp_path / "r.csv",
    )
    args = ["--data", str(data), "--model-name", name, "--eval-share", "0.25"]
    args += ["--preset", "fast", "--cv", "0", "--metrics-out", str(tmp_path / "m")]
    try:
        assert train.main(args) == 0
        first = str(bentoml.models.get(f"{name}:latest").tag)
        assert registry.production_tag(name) == first  # it is what serves
        assert train.main(args) == 0
        second = str(bentoml.models.get(f"{name}:latest").tag)
        assert "to serve it: make promote TAG=" in capsys.readouterr().out
        assert registry.production_tag(name) == first  # a candidate, not serving
        # What `make promote` does once the gate passes (the gate is e2e-tested).
        assert registry.set_production(name, second, "promote")["from"] == first
        assert promote.main(["--model-name", name, "--rollback"]) == 0
        assert registry.production_tag(name) == first
    finally:
        for model in bentoml.models.list():
            if model.tag.name == name:
                bentoml.models.delete(model.tag)
        shutil.rmtree(registry.store_dir(name), ignore_errors=True)


def test_quick_training_is_the_same_fit_without_cv_or_behaviour(
    reviews: pd.DataFrame, tmp_path: Path
) -> None:
    path = write_frame(reviews, tmp_path / "r.csv")
    params = train.TrainParams(
        eval_share=0.5,
        model=ModelParams(char_min_df=1, n_features=1 << 12),
        cv_folds=2,
    )
    full = train.train(path, "text", "label", params, log=lambda _: None)
    lines: list[str] = []
    quick = train.train(
        path,
        "text",
        "label",
        replace(params, cv_folds=0),
        log=lines.append,
        behaviour_suite=False,
    )
    texts = list(reviews["text"])
    assert (
        quick.pipeline.predict_proba(texts) == full.pipeline.predict_proba(texts)
    ).all()
    assert quick.metrics == full.metrics and quick.card == full.card
    assert quick.cv is None and quick.behaviour is None
    assert full.checks.missing() == []
    assert quick.checks.missing() == ["cross-validation", "behaviour suite"]
    assert not any("fold" in line or "behaviour" in line for line in lines)
    assert all(line.startswith("[") and "s] " in line for line in lines)


def test_quick_model_serves_first_says_how_to_check_it_and_cannot_be_promoted(
    reviews: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import bentoml

    name = "unit-quick"
    data = write_frame(
        pd.concat([reviews, reviews.assign(text=reviews.text + " indeed")]),
        tmp_path / "r.csv",
    )
    args = ["--data", str(data), "--model-name", name, "--eval-share", "0.25"]
    args += ["--preset", "fast", "--quick", "--metrics-out", str(tmp_path / "m")]
    try:
        assert train.main(args) == 0
        first = bentoml.models.get(f"{name}:latest")
        out = capsys.readouterr().out
        assert registry.production_tag(name) == str(first.tag)  # nothing else could
        assert first.info.metadata["checks"] == {
            "cross_validation": False,
            "calibration": True,
            "behaviour": False,
        }
        assert (
            "cv" not in first.info.metadata and "behaviour" not in first.info.metadata
        )
        full_report = [line for line in out.splitlines() if "full report" in line]
        assert len(full_report) == 1 and "`make train`" in full_report[0]

        assert train.main(args) == 0  # a second quick model is only a candidate
        second = str(bentoml.models.get(f"{name}:latest").tag)
        capsys.readouterr()
        assert promote.main(["--model-name", name, "--tag", second]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1 and "`make train`" in captured.err
        assert "cross-validation" in captured.err and second in captured.err
        assert registry.production_tag(name) == str(first.tag)
    finally:
        for model in bentoml.models.list():
            if model.tag.name == name:
                bentoml.models.delete(model.tag)
        shutil.rmtree(registry.store_dir(name), ignore_errors=True)


def test_quick_leaves_cv_to_make_train() -> None:
    with pytest.raises(SystemExit):
        train.parse_args(["--quick", "--cv", "3"])
    assert train.parse_args(["--quick"]).cv == 0
    assert train.parse_args([]).cv == train.TrainParams.cv_folds


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
        "--eval-share",
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

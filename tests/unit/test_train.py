"""Unit tests for train.py on tiny in-memory data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import train
from tests.conftest import PROJECT_DIR

POSITIVE = [
    "a wonderful film",
    "great acting and a great story",
    "moving, funny and wonderful",
    "a great, warm delight",
    "superb and wonderful cast",
    "funny, great fun all around",
    "wonderful direction, great score",
    "a delight from start to end",
]
NEGATIVE = [
    "a boring mess",
    "dull, tedious and boring",
    "awful acting and a dull plot",
    "a tedious, awful bore",
    "boring and lifeless throughout",
    "an awful, dull waste of time",
    "tedious script, awful pacing",
    "lifeless and boring to the end",
]


@pytest.fixture
def reviews() -> pd.DataFrame:
    """A tiny balanced corpus."""
    return pd.DataFrame(
        {
            "text": POSITIVE + NEGATIVE,
            "label": ["positive"] * len(POSITIVE) + ["negative"] * len(NEGATIVE),
        }
    )


def write(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame in the format its extension names."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        sep = "\t" if name.endswith(".tsv") else ","
        frame.to_csv(path, sep=sep, index=False, compression="infer")
    return path


@pytest.mark.parametrize(
    "filename",
    ["r.csv", "r.csv.gz", "r.tsv", "r.TSV.gz", "r.parquet"],
)
def test_load_reviews_reads_each_format(
    reviews: pd.DataFrame, tmp_path: Path, filename: str
) -> None:
    path = write(reviews, tmp_path / filename)
    loaded = train.load_reviews(path)
    assert list(loaded.columns) == ["text", "label"]
    assert loaded["text"].tolist() == reviews["text"].tolist()
    assert loaded["label"].tolist() == reviews["label"].tolist()


def test_load_reviews_uses_named_columns(reviews: pd.DataFrame, tmp_path: Path) -> None:
    renamed = reviews.rename(columns={"text": "review", "label": "sentiment"})
    path = write(renamed.assign(extra=1), tmp_path / "r.csv")
    loaded = train.load_reviews(path, text_column="review", label_column="sentiment")
    assert loaded["text"].tolist() == reviews["text"].tolist()


def test_load_reviews_maps_kaggle_layout_keeping_0_and_4(tmp_path: Path) -> None:
    kaggle = pd.DataFrame(
        {
            "PhraseId": [1, 2, 3, 4, 5, 6],
            "SentenceId": [1, 1, 1, 2, 2, 2],
            "Phrase": ["awful", "meh", "okay", "fine", "good", "superb"],
            "Sentiment": [0, 1, 2, 3, 3, 4],
        }
    )
    loaded = train.load_reviews(write(kaggle, tmp_path / "train.tsv"))
    assert loaded.to_dict("list") == {
        "text": ["awful", "superb"],
        "label": ["negative", "positive"],
    }


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("absent.csv", "data file not found"),
        ("reviews.json", "unknown data format"),
        ("reviews", "unknown data format"),
        ("reviews.txt.gz", "unknown data format"),
    ],
)
def test_load_reviews_rejects_bad_paths(
    tmp_path: Path, filename: str, message: str
) -> None:
    path = tmp_path / filename
    if filename != "absent.csv":
        path.write_text("text,label\nfine film,positive\n")
    with pytest.raises(train.TrainingError, match=message):
        train.load_reviews(path)


def test_load_reviews_names_missing_columns(
    reviews: pd.DataFrame, tmp_path: Path
) -> None:
    path = write(reviews.rename(columns={"label": "y"}), tmp_path / "r.csv")
    with pytest.raises(train.TrainingError, match=r"missing column\(s\) \['label'\]"):
        train.load_reviews(path)


def test_load_reviews_reports_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(train.TrainingError, match="cannot read"):
        train.load_reviews(path)


def test_clean_reviews_strips_filters_and_dedupes() -> None:
    raw = pd.DataFrame(
        {
            "text": ["  great film  ", "great film", "bad", None, "awful film", "  "],
            "label": ["Positive", "negative", "negative", "negative", " NEGATIVE", "x"],
        }
    )
    cleaned = train.clean_reviews(raw.iloc[:5])
    assert cleaned.to_dict("list") == {
        "text": ["great film", "awful film"],
        "label": ["positive", "negative"],
    }


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        (["great film", "fine film"], ["positive", "positive"], "need 2 classes"),
        (["ok", "", None], ["positive", "negative", "negative"], "no reviews left"),
        (
            ["great film", "bad film"],
            ["positive", "meh"],
            r"unknown label\(s\) \['meh'\]",
        ),
    ],
)
def test_clean_reviews_rejects_unusable_data(
    texts: list[str | None], labels: list[str], message: str
) -> None:
    with pytest.raises(train.TrainingError, match=message):
        train.clean_reviews(pd.DataFrame({"text": texts, "label": labels}))


def test_split_is_stratified_and_disjoint(reviews: pd.DataFrame) -> None:
    train_set, test_set = train.split_reviews(reviews, test_size=0.25, seed=7)
    assert len(train_set) == 12 and len(test_set) == 4
    assert test_set["label"].value_counts().to_dict() == {"positive": 2, "negative": 2}
    assert not set(train_set["text"]) & set(test_set["text"])


def test_pipeline_learns_and_evaluate_reports_all_metrics(
    reviews: pd.DataFrame,
) -> None:
    pipeline = train.build_pipeline(train.TrainParams(char_min_df=1))
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
    path = write(pd.concat([reviews] * 1), tmp_path / "r.csv")
    params = train.TrainParams(test_size=0.5, seed=3, char_min_df=1)
    runs = [
        train.train(path, "text", "label", params, log=lambda _: None) for _ in "ab"
    ]
    (_, metrics_a, info_a), (_, metrics_b, info_b) = runs
    assert metrics_a == metrics_b
    assert {k: v for k, v in info_a.items() if k != "fit_seconds"} == {
        k: v for k, v in info_b.items() if k != "fit_seconds"
    }


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
    write(reviews, tmp_path / "r.csv")
    (tmp_path / "r.xlsx").write_bytes(b"x")
    write(reviews.assign(label="positive"), tmp_path / "one_class.csv")
    write(reviews.assign(text="ab"), tmp_path / "short.csv")
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

    data = write(
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
    assert meta["data"]["sha256"] == train.file_sha256(data)
    assert meta["data"]["rows_kept"] == 32
    assert meta["params"]["seed"] == 42
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

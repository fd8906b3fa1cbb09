"""The drift report on real logs: quiet in distribution, loud when shifted."""

from __future__ import annotations

import json
import random
from pathlib import Path

import bentoml
import pandas as pd
import pytest

from ops import drift
from sentiment.model.artifact import MODEL_FILE
from sentiment.model.labels import to_predictions
from sentiment.model.scorer import known_feature_counts, scorer
from sentiment.telemetry.prediction_log import LogOptions, PredictionLog
from sentiment.training.data import clean_reviews, load_reviews, split_eval_slice
from tests.conftest import PROJECT_DIR

PRODUCTS = [
    "the battery died after {n} days and the charger gets hot",
    "shipping took {n} weeks, the box arrived crushed",
    "fits my phone perfectly, {n} stars, would order again",
    "the blender is loud but crushes ice in {n} seconds",
    "sizing runs small, returned it after {n} washes",
    "great value for {n} dollars, the cable feels sturdy",
]


def write_log(path: Path, tag: str, texts: list[str]) -> Path:
    """Score texts with the stored model and log them through the real writer."""
    import joblib

    pipeline = joblib.load(bentoml.models.get(tag).path_of(MODEL_FILE))
    predict = scorer(pipeline)
    log = PredictionLog(LogOptions(path, tag), known_feature_counts(pipeline))
    for start in range(0, len(texts), 50):
        batch = texts[start : start + 50]
        answer = to_predictions(predict(batch), list(pipeline.classes_))
        log.record(
            f"r{start}",
            json.dumps({"texts": batch}).encode(),
            json.dumps(answer).encode(),
        )
    log.close()
    return path


@pytest.fixture(scope="module")
def held_out() -> list[str]:
    data = load_reviews(PROJECT_DIR / "data" / "rotten_tomatoes_reviews.csv.gz")
    reviews, _ = clean_reviews(data)
    _, test = split_eval_slice(reviews)  # reviews the model never trained on
    return list(test["text"])


def report(
    log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    code = drift.main([str(log), "--png", str(tmp_path / "drift.png")])
    return code, capsys.readouterr().out


def test_held_out_reviews_show_no_drift(
    trained_model: str,
    held_out: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = write_log(tmp_path / "in.jsonl", trained_model, held_out)
    code, out = report(log, tmp_path, capsys)
    assert code == 0, out
    assert "DRIFT" not in out and out.count(" ok") == 3
    assert (tmp_path / "drift.png").stat().st_size > 1000


def test_product_reviews_and_unknown_words_show_drift(
    trained_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(7)
    products = [rng.choice(PRODUCTS).format(n=rng.randint(2, 9)) for _ in range(300)]
    slang = [
        " ".join("".join(rng.choice("qxzjvk") for _ in range(5)) for _ in range(6))
        for _ in range(300)
    ]
    log = write_log(tmp_path / "shifted.jsonl", trained_model, products + slang)
    code, out = report(log, tmp_path, capsys)
    assert code == 1, out
    lines = {line.split("  ")[0].strip(): line for line in out.splitlines()}
    assert "DRIFT" in lines["no known features"]


def test_window_and_bad_input(
    trained_model: str,
    held_out: list[str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = write_log(tmp_path / "in.jsonl", trained_model, held_out[:100])
    assert drift.main([str(log), "--since", "2999-01-01T00:00"]) == 2
    assert "no predictions in the log window" in capsys.readouterr().err
    assert drift.main([str(tmp_path / "missing.jsonl")]) == 2
    assert drift.main([str(log), "--since", "yesterday"]) == 2
    frame = pd.read_json(log, lines=True)
    assert set(frame.columns) >= {
        "time",
        "request_id",
        "model",
        "label",
        "score",
        "length",
    }

"""Unit tests for sentiment.training.data: reading, cleaning and splitting reviews."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentiment import errors
from sentiment.training import data
from tests.unit.conftest import write_frame


@pytest.mark.parametrize(
    "filename",
    ["r.csv", "r.csv.gz", "r.tsv", "r.TSV.gz", "r.parquet"],
)
def test_load_reviews_reads_each_format(
    reviews: pd.DataFrame, tmp_path: Path, filename: str
) -> None:
    path = write_frame(reviews, tmp_path / filename)
    loaded = data.load_reviews(path)
    assert list(loaded.columns) == ["text", "label"]
    assert loaded["text"].tolist() == reviews["text"].tolist()
    assert loaded["label"].tolist() == reviews["label"].tolist()


def test_load_reviews_uses_named_columns(reviews: pd.DataFrame, tmp_path: Path) -> None:
    renamed = reviews.rename(columns={"text": "review", "label": "sentiment"})
    path = write_frame(renamed.assign(extra=1), tmp_path / "r.csv")
    loaded = data.load_reviews(path, text_column="review", label_column="sentiment")
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
    loaded = data.load_reviews(write_frame(kaggle, tmp_path / "train.tsv"))
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
    with pytest.raises(errors.TrainingError, match=message):
        data.load_reviews(path)


def test_load_reviews_names_missing_columns(
    reviews: pd.DataFrame, tmp_path: Path
) -> None:
    path = write_frame(reviews.rename(columns={"label": "y"}), tmp_path / "r.csv")
    with pytest.raises(errors.TrainingError, match=r"missing column\(s\) \['label'\]"):
        data.load_reviews(path)


def test_load_reviews_reports_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(errors.TrainingError, match="cannot read"):
        data.load_reviews(path)


def test_clean_reviews_strips_filters_and_dedupes() -> None:
    raw = pd.DataFrame(
        {
            "text": ["  great film  ", "great film", "bad", None, "awful film", "  "],
            "label": ["Positive", "negative", "negative", "negative", " NEGATIVE", "x"],
        }
    )
    cleaned, dropped = data.clean_reviews(raw.iloc[:5])
    assert cleaned.to_dict("list") == {
        "text": ["great film", "awful film"],
        "label": ["positive", "negative"],
    }
    assert dropped == {"review_too_short": 2, "duplicate": 1}


def test_clean_reviews_drops_what_the_api_refuses() -> None:
    texts = ["great film", "123458303", "a\x00bcdef", "x" * 5001, "bad film"]
    raw = pd.DataFrame({"text": texts, "label": ["positive"] * 4 + ["negative"]})
    cleaned, dropped = data.clean_reviews(raw)
    assert list(cleaned["text"]) == ["great film", "bad film"]
    assert dropped == {
        "review_is_number": 1,
        "review_has_control_character": 1,
        "review_too_long": 1,
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
    with pytest.raises(errors.TrainingError, match=message):
        data.clean_reviews(pd.DataFrame({"text": texts, "label": labels}))


def test_eval_slice_is_chosen_by_text_alone(reviews: pd.DataFrame) -> None:
    rest, held = data.split_eval_slice(reviews, 0.5)
    assert not set(rest["text"]) & set(held["text"])
    assert len(rest) + len(held) == len(reviews)
    # Order, neighbours and labels do not move a text in or out of the slice.
    shuffled = reviews.sample(frac=1.0, random_state=1)
    grown = pd.concat([shuffled, shuffled.assign(text=shuffled.text + " again")])
    _, held_grown = data.split_eval_slice(grown, 0.5)
    assert set(held["text"]) == set(held_grown["text"]) & set(reviews["text"])
    assert data.eval_slice_key("a wonderful film") == data.eval_slice_key(
        "a wonderful film"
    )


def test_eval_slice_share_is_close_to_asked() -> None:
    texts = pd.Series([f"review number {i}" for i in range(20_000)])
    assert abs(data.in_eval_slice(texts, 0.15).mean() - 0.15) < 0.01


def test_eval_slice_without_a_label_is_refused(reviews: pd.DataFrame) -> None:
    with pytest.raises(errors.TrainingError, match=r"evaluation slice .* no \['neg"):
        data.split_eval_slice(reviews, 0.25)

"""score.py on real files with the session's model: same columns as the job API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import score
from tests.conftest import PROJECT_DIR


@pytest.fixture
def reviews_csv(tmp_path: Path) -> Path:
    frame = pd.DataFrame(
        {
            "id": range(6),
            "review": [
                "a wonderful, moving film",
                "ab",
                "a dull, lifeless and boring mess",
                "123458303",
                "one of the best films of the year",
                "the worst movie i have seen",
            ],
        }
    )
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("out_name", ["out.csv", "out.parquet", "out.tsv.gz"])
def test_scores_every_row_in_order(
    trained_model: str,
    reviews_csv: Path,
    tmp_path: Path,
    out_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    output = tmp_path / out_name
    assert score.main([str(reviews_csv), str(output), "--text-column", "review"]) == 0
    if out_name.endswith(".parquet"):
        scored = pd.read_parquet(output)
    else:
        scored = pd.read_csv(
            output, sep="\t" if ".tsv" in out_name else ",", keep_default_na=False
        )
    assert list(scored["id"]) == list(range(6))
    assert list(scored.columns) == ["id", "review", "label", "score", "rejected"]
    assert list(scored["label"]) == [
        "positive",
        "",
        "negative",
        "",
        "positive",
        "negative",
    ]
    assert list(scored["rejected"]) == [
        "",
        "review_too_short",
        "",
        "review_is_number",
        "",
        "",
    ]
    out = capsys.readouterr().out
    assert "scored 4 rows, rejected 2" in out and "rows/s" in out
    assert not list(tmp_path.glob(".out*")), "a temporary file was left behind"


def test_bad_input_is_one_line_exit_2_and_no_output(
    trained_model: str, reviews_csv: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.csv"
    result = subprocess.run(
        [sys.executable, "score.py", str(reviews_csv), str(output)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "score.py: error: 'in.csv' has no column 'text' (found: id, review)"
    ]
    assert not output.exists()


def test_an_interrupted_write_leaves_no_file(
    trained_model: str,
    reviews_csv: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def crash(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(score, "write_table", crash)
    output = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        score.main([str(reviews_csv), str(output), "--text-column", "review"])
    assert list(tmp_path.iterdir()) == [reviews_csv]


def test_unknown_model_is_one_line(
    reviews_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = score.main(
        [
            str(reviews_csv),
            str(tmp_path / "o.csv"),
            "--text-column",
            "review",
            "--model",
            "nope:latest",
        ]
    )
    assert code == 2
    assert "'nope:latest' not found in the model store" in capsys.readouterr().err

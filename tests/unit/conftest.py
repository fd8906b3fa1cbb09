"""Tiny in-memory corpora for unit tests: no trained artifact needed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

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


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Write a frame in the format its extension names."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        sep = "\t" if name.endswith(".tsv") else ","
        frame.to_csv(path, sep=sep, index=False, compression="infer")
    return path


@pytest.fixture(autouse=True)
def free_job_slots() -> None:
    """Every test starts with no file job counted against the worker's cap."""
    from sentiment.jobs.slots import SLOTS

    SLOTS.__init__()  # type: ignore[misc]


@pytest.fixture(scope="module")
def texts_and_labels() -> tuple[list[str], list[str]]:
    """Forty short reviews, half positive, for fitting real pipelines in seconds."""
    positive = ["a wonderful film", "great acting", "moving and funny", "superb cast"]
    negative = ["a boring mess", "dull and tedious", "awful acting", "lifeless plot"]
    texts = [f"{t} {i}" for i in range(5) for t in positive + negative]
    labels = (["positive"] * 4 + ["negative"] * 4) * 5
    return texts, labels

"""Unit tests for sentiment.jobs.scoring: every row back, in order, rules named."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentiment.jobs.scoring import score_table

CLASSES = ["negative", "positive"]


def fake_proba(texts: list[str]) -> np.ndarray:
    """positive when the text says 'good'."""
    positive = np.array([0.9 if "good" in t else 0.2 for t in texts])
    return np.column_stack([1 - positive, positive])


def test_rows_keep_order_and_columns_and_rejects_are_named() -> None:
    frame = pd.DataFrame(
        {"id": [1, 2, 3, 4], "text": ["a good film", "ab", "a bad film", "12345"]}
    )
    scored, counts = score_table(frame, "text", fake_proba, CLASSES)
    assert list(scored.columns) == ["id", "text", "label", "score", "rejected"]
    assert list(scored["id"]) == [1, 2, 3, 4]
    assert list(scored["label"]) == ["positive", "", "negative", ""]
    assert list(scored["rejected"]) == ["", "review_too_short", "", "review_is_number"]
    assert scored["score"].iloc[0] == pytest.approx(0.9)
    assert np.isnan(scored["score"].iloc[1])
    assert (counts.rows, counts.scored, counts.rejected) == (4, 2, 2)


def test_large_tables_are_scored_in_chunks_with_progress() -> None:
    frame = pd.DataFrame({"text": ["a good film"] * 10_000})
    done: list[int] = []
    scored, counts = score_table(frame, "text", fake_proba, CLASSES, done.append)
    assert sum(done) == 10_000 and len(done) == 3
    assert counts.scored == 10_000 and (scored["label"] == "positive").all()

"""Score a whole table of reviews: what ``score.py`` and ``/classify_file`` share.

Rows keep their order and their columns; ``label`` and ``score`` are added, and
a ``rejected`` column names the review rule a row broke (its ``label`` is then
empty and its ``score`` missing). Nothing is dropped. Reading and writing the
tables is :mod:`sentiment.jobs.tables`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sentiment.model.labels import best_labels
from sentiment.model.reviews import review_problem

CHUNK_ROWS = 4096  # rows per model call: large batches, bounded memory


@dataclass(frozen=True)
class Counts:
    """How a scoring run went."""

    rows: int
    scored: int
    rejected: int


def chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """The frame in consecutive slices of at most ``size`` rows."""
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


def score_chunk(
    chunk: pd.DataFrame,
    text_column: str,
    predict_proba: Callable[[list[str]], Any],
    classes: list[str],
) -> pd.DataFrame:
    """The chunk with ``label``, ``score`` and ``rejected`` columns added."""
    texts = ["" if pd.isna(t) else str(t) for t in chunk[text_column]]
    problems = [review_problem(text) for text in texts]
    valid = [i for i, problem in enumerate(problems) if problem is None]
    labels = np.full(len(texts), "", dtype=object)
    scores = np.full(len(texts), np.nan)
    if valid:
        probabilities = predict_proba([texts[i].strip() for i in valid])
        labels[valid], scores[valid] = best_labels(probabilities, classes)
    out = chunk.copy()
    out["label"] = labels
    out["score"] = scores
    out["rejected"] = [problem[0] if problem else "" for problem in problems]
    return out


def score_table(
    frame: pd.DataFrame,
    text_column: str,
    predict_proba: Callable[[list[str]], Any],
    classes: list[str],
    progress: Callable[[int], None] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> tuple[pd.DataFrame, Counts]:
    """Score every row, in order, in large batches.

    Args:
        frame: the input table.
        text_column: the column holding the reviews.
        predict_proba: the model (``sentiment.model.scorer.scorer``'s function).
        classes: the model's labels in column order.
        progress: called with the number of rows done after each chunk.
        chunk_rows: rows per model call.
    """
    parts = []
    for chunk in chunks(frame, chunk_rows):
        parts.append(score_chunk(chunk, text_column, predict_proba, classes))
        if progress:
            progress(len(chunk))
    scored = pd.concat(parts)
    rejected = int((scored["rejected"] != "").sum())
    return scored, Counts(len(scored), len(scored) - rejected, rejected)

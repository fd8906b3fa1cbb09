"""Score a whole table of reviews: what ``score.py`` and ``/classify_file`` share.

Rows keep their order and their columns; ``label`` and ``score`` are added, and
a ``rejected`` column names the review rule a row broke (its ``label`` is then
empty and its ``score`` missing). Nothing is dropped.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sentiment.schemas import review_problem

CHUNK_ROWS = 4096  # rows per model call: large batches, bounded memory


class ScoringError(Exception):
    """The input cannot be scored; the message is one line saying why."""


@dataclass(frozen=True)
class Counts:
    """How a scoring run went."""

    rows: int
    scored: int
    rejected: int


def file_format(name: str) -> str:
    """``csv``, ``tsv`` or ``parquet`` from a file name (``.gz`` allowed).

    Raises:
        ScoringError: another extension.
    """
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = suffixes[-1].lstrip(".") if suffixes else ""
    if fmt not in ("csv", "tsv", "parquet"):
        raise ScoringError(
            f"{name!r}: expected a .csv, .tsv or .parquet file (optionally .gz)"
        )
    return fmt


def read_table(source: Path | bytes, name: str, text_column: str) -> pd.DataFrame:
    """Read a CSV, TSV or parquet table and check its text column.

    Args:
        source: a path, or the file's bytes (an upload).
        name: the file name, whose extension says the format.
        text_column: the column holding the reviews.

    Raises:
        ScoringError: unreadable, not what its name claims, empty, or no such column.
    """
    fmt = file_format(name)
    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    compression: Literal["gzip"] | None = (
        "gzip" if name.lower().endswith(".gz") else None
    )
    try:
        if fmt == "parquet":
            if compression:
                import gzip

                handle = io.BytesIO(gzip.decompress(_read_all(handle)))
            frame = pd.read_parquet(handle)
        else:
            sep = "\t" if fmt == "tsv" else ","
            frame = pd.read_csv(
                handle, sep=sep, compression=compression, keep_default_na=False
            )
    except pd.errors.EmptyDataError:
        raise ScoringError(f"{name!r} is empty") from None
    except Exception as exc:  # pandas and pyarrow raise many types for bad files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScoringError(f"{name!r} is not a readable {fmt} file: {first}") from None
    if text_column not in frame.columns:
        found = ", ".join(map(str, frame.columns[:10]))
        raise ScoringError(f"{name!r} has no column {text_column!r} (found: {found})")
    if frame.empty:
        raise ScoringError(f"{name!r} has no rows")
    return frame


def _read_all(handle: Any) -> bytes:
    if isinstance(handle, io.BytesIO):
        return handle.getvalue()
    return Path(handle).read_bytes()


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
        best = probabilities.argmax(axis=1)
        labels[valid] = np.asarray(classes, dtype=object)[best]
        scores[valid] = probabilities[np.arange(len(valid)), best]
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
        predict_proba: the model (``sentiment.model.scorer``'s function).
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


def write_table(frame: pd.DataFrame, path: Path, fmt: str, gzipped: bool) -> None:
    """Write the scored table in the format its name asks for."""
    if fmt == "parquet":
        if not gzipped:
            frame.to_parquet(path, index=False)
            return
        import gzip

        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        path.write_bytes(gzip.compress(buffer.getvalue()))
        return
    frame.to_csv(
        path,
        sep="\t" if fmt == "tsv" else ",",
        index=False,
        compression="gzip" if gzipped else None,
    )

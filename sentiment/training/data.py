"""Read and clean training data: the same review rules as the API, no leaks."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from sentiment.errors import TrainingError
from sentiment.model.artifact import LABELS
from sentiment.model.reviews import review_problem

KAGGLE_TEXT, KAGGLE_LABEL = "Phrase", "Sentiment"
KAGGLE_LABEL_MAP = {0: "negative", 4: "positive"}  # mlseries prepare_data kept 0 and 4

READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": lambda path: pd.read_csv(path),
    ".tsv": lambda path: pd.read_csv(path, sep="\t"),
    ".parquet": lambda path: pd.read_parquet(path),
}


def data_format(path: Path) -> str:
    """Return the reader key (``.csv``, ``.tsv`` or ``.parquet``) for a data path.

    A trailing ``.gz`` is allowed; pandas decompresses it.

    Raises:
        TrainingError: if the extension is not one we read.
    """
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = suffixes[-1] if suffixes else ""
    if fmt not in READERS:
        raise TrainingError(
            f"unknown data format for {path.name!r}: expected one of "
            ".csv, .tsv, .parquet (optionally .gz)"
        )
    return fmt


def load_reviews(
    path: Path, text_column: str = "text", label_column: str = "label"
) -> pd.DataFrame:
    """Read a review file into a ``text``/``label`` frame.

    Reads CSV, TSV or parquet (chosen by extension, optionally gzipped). A Kaggle
    "Sentiment Analysis on Movie Reviews" TSV (``Phrase``, ``Sentiment`` 0-4) is
    recognised when the requested columns are absent: only sentiment 0 and 4 are
    kept, mapped to negative and positive.

    Returns:
        A frame with exactly the columns ``text`` and ``label`` (raw, unfiltered).

    Raises:
        TrainingError: missing file, unknown format, unreadable file or missing columns.
    """
    if not path.is_file():
        raise TrainingError(f"data file not found: {path}")
    reader = READERS[data_format(path)]
    try:
        frame = reader(path)
    except Exception as exc:  # pandas raises many types for a malformed file
        raise TrainingError(f"cannot read {path}: {exc}".splitlines()[0]) from exc
    columns = set(frame.columns)
    if {text_column, label_column} <= columns:
        return pd.DataFrame({"text": frame[text_column], "label": frame[label_column]})
    if {KAGGLE_TEXT, KAGGLE_LABEL} <= columns:
        return kaggle_to_binary(frame)
    missing = sorted({text_column, label_column} - columns)
    raise TrainingError(
        f"missing column(s) {missing} in {path.name}; found {sorted(map(str, columns))}"
    )


def kaggle_to_binary(frame: pd.DataFrame) -> pd.DataFrame:
    """Map the Kaggle 0-4 layout to binary labels, keeping only 0 and 4."""
    sentiment = pd.to_numeric(frame[KAGGLE_LABEL], errors="coerce")
    keep = sentiment.isin(list(KAGGLE_LABEL_MAP))
    return pd.DataFrame(
        {
            "text": frame.loc[keep, KAGGLE_TEXT],
            "label": sentiment[keep].astype(int).map(KAGGLE_LABEL_MAP),
        }
    ).reset_index(drop=True)


def clean_reviews(
    frame: pd.DataFrame, labels: Sequence[str] | None = LABELS
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep what the API would accept, stripped, once each.

    Drops every text that breaks a review rule of the API (too short, a number,
    control characters, too long), strips the rest, drops duplicate texts
    (keeping the first) so nothing leaks between splits, and checks the labels:
    ``labels`` (lower-cased first), or any (as written) when None.

    Returns:
        The cleaned frame, and how many rows each rule dropped (plus
        ``duplicate``).

    Raises:
        TrainingError: unknown labels, nothing left, or fewer than two classes.
    """
    text = frame["text"].where(frame["text"].notna(), "").astype(str)
    problems = [review_problem(value) for value in text]
    dropped = Counter(problem[0] for problem in problems if problem)
    keep = [problem is None for problem in problems]
    cleaned = pd.DataFrame(
        {
            "text": text[keep].str.strip(),
            "label": label_text(frame["label"][keep], lower=labels is not None),
        }
    )
    deduplicated = cleaned.drop_duplicates(subset="text", keep="first")
    if len(deduplicated) < len(cleaned):
        dropped["duplicate"] = len(cleaned) - len(deduplicated)
    unknown = sorted(set(deduplicated["label"]) - set(labels or deduplicated["label"]))
    if unknown:
        raise TrainingError(
            f"unknown label(s) {unknown[:5]}: labels must be {list(labels or [])}"
        )
    if deduplicated.empty:
        raise TrainingError(
            "no reviews left after filtering: every text broke a review rule "
            f"{dict(dropped)} or was a duplicate"
        )
    classes = sorted(set(deduplicated["label"]))
    if len(classes) < 2:
        raise TrainingError(f"need 2 classes to train, found only {classes}")
    return deduplicated.reset_index(drop=True), dict(dropped)


def label_text(labels: pd.Series, lower: bool) -> pd.Series:
    """Labels as stripped strings (lower-cased for the sentiment pair)."""
    text = labels.astype(str).str.strip()
    return text.str.lower() if lower else text


EVAL_SHARE = 0.15  # the evaluation slice: texts no model of this project trains on


def eval_slice_key(text: str) -> float:
    """Where a text falls in [0, 1): a stable hash, the same on every machine."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_eval_slice(texts: pd.Series, share: float = EVAL_SHARE) -> pd.Series:
    """Which texts belong to the evaluation slice (a boolean mask)."""
    return texts.map(eval_slice_key) < share


def split_eval_slice(
    frame: pd.DataFrame, share: float = EVAL_SHARE
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reviews a model may train on, and the fixed evaluation slice.

    The slice is chosen by a hash of each text, not by a seeded shuffle, so it
    stays the same when the corpus grows, between runs and between models: the
    promotion gate compares two models on reviews neither of them has seen.

    Raises:
        TrainingError: the slice or the rest lacks one of the labels.
    """
    mask = in_eval_slice(frame["text"], share)
    rest, held = frame[~mask], frame[mask]
    for name, part in (("evaluation slice", held), ("training part", rest)):
        missing = sorted(set(frame["label"]) - set(part["label"]))
        if missing:
            raise TrainingError(
                f"the {name} ({share:.0%} of reviews chosen by text hash) has no "
                f"{missing} review: use more data or another --eval-share"
            )
    return rest.reset_index(drop=True), held.reset_index(drop=True)

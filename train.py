"""Train the movie-review sentiment classifier and save it to the BentoML model store.

Usage:
    python train.py [--data PATH] [--text-column C] [--label-column C]
                    [--model-name sentiment] [--eval-share 0.15] [--seed 42]
                    [--metrics-out PATH] [--preset accurate|ngrams|fast] [--cv 5]
                    [--quick]

A fixed evaluation slice (``--eval-share`` of the reviews, chosen by a hash of
each text) is set aside first: no model ever trains on it. Cross-validation
measures the configuration on the rest; the shipped model is then refitted on all
of the rest and measured on the slice. The whole scikit-learn ``Pipeline`` is
saved as one artifact, so the service does no preprocessing of its own. Metrics,
the model card, training parameters and data provenance go into the model's
metadata (``bentoml models get <name>:<version>``). The new model is a
*candidate*: ``make promote`` decides whether it serves. ``--quick`` (what
``make serve`` trains into an empty store) skips the cross-validation and the
behaviour suite: the same fit, measured on the slice only, in a fraction of the
time; the metadata's ``checks`` say which checks a model has had.

Each line says the seconds since the start, and a step that runs longer says so
every few seconds (:mod:`sentiment.training.progress`).

Bad input (missing file, unknown format, missing columns, fewer than two classes,
nothing left after filtering) is reported as one line on stderr with exit code 2,
and nothing is written to the model store.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess  # nosec B404
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment.errors import TrainingError
from sentiment.files import write_atomically
from sentiment.lifecycle import registry
from sentiment.model.artifact import LABELS, save_model, sha256_of
from sentiment.model.metadata import (
    Checks,
    CrossValidation,
    DataInfo,
    DriftReference,
    Metrics,
    ModelCard,
    ModelMetadata,
)
from sentiment.model.scorer import speed_up_inference
from sentiment.training.behaviour import HEADLINE, behaviour_pass_rates
from sentiment.training.card import model_card
from sentiment.training.data import (
    EVAL_SHARE,
    clean_reviews,
    load_reviews,
    split_eval_slice,
)
from sentiment.training.evaluation import (
    cross_validate,
    drift_reference,
    evaluate,
    format_metrics,
)
from sentiment.training.pipeline import (
    DEFAULT_PRESET,
    PRESETS,
    ModelParams,
    fit_pipeline,
)
from sentiment.training.progress import Progress

PROJECT_DIR = Path(__file__).resolve().parent
DEFAULT_DATA = PROJECT_DIR / "data" / "rotten_tomatoes_reviews.csv.gz"
DEFAULT_METRICS_OUT = Path("reports") / "model_performance.json"


@dataclass(frozen=True)
class TrainParams:
    """Everything that determines the trained model, stored in its metadata."""

    eval_share: float = EVAL_SHARE
    seed: int = 42
    preset: str = DEFAULT_PRESET
    model: ModelParams = field(default_factory=ModelParams)
    cv_folds: int = 5


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


def say(line: str) -> None:
    """Print a progress line now, even into a pipe (a CI log, ``| tee``)."""
    print(line, flush=True)


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


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON via a temp file and a rename, so it is never half-written."""
    text = json.dumps(payload, indent=2, sort_keys=True) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))


@dataclass(frozen=True)
class Trained:
    """What :func:`train` made: the fitted pipeline and what to store with it."""

    pipeline: Any
    metrics: Metrics
    data_info: DataInfo
    cv: CrossValidation | None
    reference: DriftReference
    behaviour: dict[str, float] | None
    card: ModelCard
    checks: Checks


def train(
    data: Path,
    text_column: str,
    label_column: str,
    params: TrainParams,
    log: Callable[[str], object] = say,
    behaviour_suite: bool = True,
) -> Trained:
    """Load, clean, set the evaluation slice aside, cross-validate, fit, evaluate.

    Cross-validation runs when ``params.cv_folds`` is set, the behaviour suite
    when ``behaviour_suite`` is; neither changes the fit. Touches nothing on disk.
    """
    progress = Progress(log)
    raw = load_reviews(data, text_column, label_column)
    progress.say(f"loaded {len(raw):,} rows from {data}")
    reviews, dropped = clean_reviews(raw)
    counts = reviews["label"].value_counts().to_dict()
    progress.say(
        f"kept {len(reviews):,} rows: {counts}; dropped by rule: {dropped or 'none'}"
    )
    train_set, test_set = split_eval_slice(reviews, params.eval_share)
    progress.say(
        f"split: {len(train_set):,} train / {len(test_set):,} in the evaluation "
        f"slice ({params.eval_share:.0%} by text hash, never trained on)"
    )
    cv = None
    if params.cv_folds:
        cv = cross_validate(
            train_set, params.model, params.cv_folds, params.seed, progress
        )
        progress.say(
            f"{params.cv_folds}-fold CV accuracy of preset {params.preset!r}: "
            f"{cv.accuracy_mean:.4f} ± {cv.accuracy_std:.4f}"
        )
    started = time.perf_counter()
    fitting = f"fitting preset {params.preset!r} on {len(train_set):,} reviews"
    with progress.step(fitting):
        pipeline = speed_up_inference(
            fit_pipeline(params.model, list(train_set["text"]), train_set["label"])
        )
    fit_seconds = time.perf_counter() - started
    progress.say(f"fitted in {fit_seconds:.1f}s")
    metrics = Metrics.model_validate(
        evaluate(pipeline, test_set["text"], test_set["label"])
    )
    data_info = DataInfo(
        path=data.name,
        sha256=sha256_of(data),
        rows_loaded=len(raw),
        rows_kept=len(reviews),
        rows_train=len(train_set),
        rows_test=len(test_set),
        eval_share=params.eval_share,
        label_counts={str(k): int(v) for k, v in counts.items()},
        dropped_by_rule=dropped,
        fit_seconds=round(fit_seconds, 2),
    )
    reference = drift_reference(pipeline, list(test_set["text"]))
    card = model_card(pipeline, list(test_set["text"]), list(test_set["label"]))
    progress.say(
        f"evaluation slice: accuracy {metrics.accuracy:.4f}, "
        f"calibration ECE {card.ece:.3f}"
    )
    behaviour = None
    if behaviour_suite:
        with progress.step("behaviour suite"):
            behaviour = behaviour_pass_rates(pipeline)
        progress.say(
            "behaviour suite: "
            + ", ".join(f"{name} {behaviour[name]:.0%}" for name in HEADLINE)
        )
    checks = Checks(
        cross_validation=cv is not None, calibration=True, behaviour=behaviour_suite
    )
    return Trained(pipeline, metrics, data_info, cv, reference, behaviour, card, checks)


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
        "--eval-share",
        type=float,
        default=TrainParams.eval_share,
        help="share of reviews in the evaluation slice, chosen by text hash and "
        "never trained on; keep the default so models stay comparable "
        "(default: %(default)s)",
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
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=DEFAULT_PRESET,
        help="model configuration (default: %(default)s): "
        + "; ".join(f"{name}: {preset.summary}" for name, preset in PRESETS.items()),
    )
    parser.add_argument(
        "--cv",
        type=int,
        help="folds for the cross-validated accuracy stored with the model; "
        f"0 skips it (default: {TrainParams.cv_folds}, with --quick 0)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the same fit, measured on the evaluation slice only: no "
        "cross-validation, no behaviour suite (what `make serve` trains into an "
        "empty store; `make promote` refuses such a model as a candidate)",
    )
    args = parser.parse_args(argv)
    if args.cv is None:
        args.cv = 0 if args.quick else TrainParams.cv_folds
    elif args.quick and args.cv:
        parser.error("--quick skips cross-validation: leave --cv out")
    if args.cv == 1 or args.cv < 0:
        parser.error(f"--cv must be 0 or at least 2, got {args.cv}")
    if not 0.0 < args.eval_share < 1.0:
        parser.error(f"--eval-share must be between 0 and 1, got {args.eval_share}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run training from the command line.

    Returns:
        The process exit code: 0 on success, 2 on bad input.
    """
    args = parse_args(argv)
    params = TrainParams(
        eval_share=args.eval_share,
        seed=args.seed,
        preset=args.preset,
        model=PRESETS[args.preset].params,
        cv_folds=args.cv,
    )
    try:
        if args.metrics_out.is_dir():
            raise TrainingError(f"--metrics-out is a directory: {args.metrics_out}")
        trained = train(
            args.data,
            args.text_column,
            args.label_column,
            params,
            behaviour_suite=not args.quick,
        )
    except TrainingError as exc:
        print(f"train.py: error: {exc}", file=sys.stderr)
        return 2
    print(format_metrics(trained.metrics.model_dump()))
    metadata = ModelMetadata(
        metrics=trained.metrics,
        params=json.loads(json.dumps(asdict(params))),
        data=trained.data_info,
        labels=list(LABELS),
        versions=library_versions(),
        git_commit=git_commit(),
        preset=params.preset,
        cv=trained.cv,
        reference=trained.reference,
        behaviour=trained.behaviour,
        card=trained.card,
        checks=trained.checks,
    )
    newest_before = newest_tag(args.model_name)
    tag = save_model(trained.pipeline, args.model_name, metadata)
    metrics = trained.metrics.model_dump()
    write_json_atomically(args.metrics_out, {"model": tag, **metrics})
    print(f"saved candidate model {tag}; metrics written to {args.metrics_out}")
    adopted = registry.adopt_serving_model(args.model_name, newest_before, tag)
    if adopted == tag:
        print(f"nothing was in production: {tag} is the production model now")
    else:
        if adopted:
            print(f"nothing was in production: {adopted}, which served, is now")
        print(f"to serve it: make promote TAG={tag}")
    if missing := trained.checks.missing():
        print(
            f"{tag} has had no {' or '.join(missing)}: for the full report, "
            "`make train` (a candidate with every check, about 4 minutes), then "
            f"`make model-card MODEL={args.model_name}:latest`",
            flush=True,
        )
    return 0


def newest_tag(name: str) -> str | None:
    """The newest stored version of ``name``, or None when there is none."""
    import bentoml

    try:
        return str(bentoml.models.get(f"{name}:latest").tag)
    except bentoml.exceptions.NotFound:
        return None


if __name__ == "__main__":
    sys.exit(main())

"""Import a fitted scikit-learn text classifier as a candidate model.

Usage:
    python import_model.py MODEL.joblib [--data FILE --text-column C --label-column C]
                           [--labels negative,positive] [--calibrate]
                           [--model-name sentiment]

Loads the file, refuses a model that cannot serve (one line naming why, exit 2,
nothing stored), measures it on labelled data (``data/``'s evaluation slice when
its labels are the model's, else ``--data``), runs the behaviour suite when its
labels are the sentiment pair, and saves it with its metadata and model card as
a candidate that ``make promote`` gates (docs/own-model.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import train
from sentiment.errors import TrainingError
from sentiment.lifecycle import registry
from sentiment.model.artifact import LABELS, save_model
from sentiment.model.decision import UNCALIBRATED, scores_of
from sentiment.model.metadata import ModelMetadata
from sentiment.training.behaviour import HEADLINE, pass_rates, run_suite
from sentiment.training.importing import Prepared, prepare


def behaviour(prepared: Prepared) -> dict[str, float] | None:
    """The behaviour suite's pass rates, for the sentiment pair only."""
    if sorted(prepared.labels) != sorted(LABELS):
        return None
    score = scores_of(prepared.model).predict_proba
    column = prepared.labels.index("positive")
    return pass_rates(run_suite(lambda texts: np.asarray(score(texts))[:, column]))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="make import", description=__doc__.split("\n")[0]
    )
    parser.add_argument("model", type=Path, help="a joblib file of a fitted classifier")
    parser.add_argument("--data", type=Path, help="labelled CSV/TSV/parquet")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="label")
    parser.add_argument(
        "--labels", help="names for its classes_, in order (e.g. negative,positive)"
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="fit CalibratedClassifierCV (sigmoid) on --data around the model",
    )
    parser.add_argument("--model-name", default="sentiment")
    parser.add_argument(
        "--corpus", type=Path, default=train.DEFAULT_DATA, help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Import; the exit code (0 stored, 2 refused: nothing stored)."""
    args = parse_args(argv)
    names = [n.strip() for n in args.labels.split(",")] if args.labels else None
    try:
        prepared = prepare(
            args.model, args.corpus, args.data, args.text_column, args.label_column,
            names, args.calibrate,
        )  # fmt: skip
        rates = behaviour(prepared)
    except TrainingError as exc:
        print(f"import: refused {args.model.name}: {exc}", file=sys.stderr)
        return 2
    metrics = prepared.metrics
    print(
        f"import: {prepared.imported.estimator}, labels {prepared.labels}; "
        f"{prepared.imported.evaluated_on}: accuracy {metrics.accuracy:.4f}, "
        f"macro-F1 {metrics.f1_macro:.4f} on {metrics.n_test:,} reviews"
    )
    if prepared.imported.scores == UNCALIBRATED:
        print(
            "import: it has no predict_proba: its scores are a sigmoid/softmax of "
            "decision_function, not probabilities; --calibrate (CALIBRATE=1) with "
            "--data fits CalibratedClassifierCV around it"
        )
    if rates:
        print("behaviour suite: " + ", ".join(f"{n} {rates[n]:.0%}" for n in HEADLINE))
    metadata = ModelMetadata(
        metrics=metrics,
        params={"imported": prepared.imported.estimator},
        data=prepared.data,
        labels=prepared.labels,
        versions=train.library_versions(),
        git_commit=train.git_commit(),
        behaviour=rates,
        card=prepared.card,
        reference=prepared.reference,
        checks=prepared.checks,
        imported=prepared.imported,
    )
    newest_before = train.newest_tag(args.model_name)
    tag = save_model(prepared.model, args.model_name, metadata)
    print(f"saved candidate model {tag} (checks at promotion: "
          f"{', '.join(prepared.imported.checks_run)})")  # fmt: skip
    if registry.adopt_serving_model(args.model_name, newest_before, tag) == tag:
        print(f"nothing was in production: {tag} is the production model now")
    else:
        print(f"to serve it: make promote TAG={tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

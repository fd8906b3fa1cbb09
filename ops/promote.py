"""Promote a candidate model to production through the gate, or roll back.

Usage:
    python -m ops.promote [--tag sentiment:v2] [--data PATH] [--log 'logs/*.jsonl']
    python -m ops.promote --rollback

Prints the gate's side-by-side table, writes the report (JSON) and, when every
check passes, moves the production pointer and appends to the audit log. Exits 1
with the reasons when the gate refuses, 2 on bad input (an unknown tag).
Running servers that follow production swap to the new model within seconds.
A candidate that has not had every check of ``train.py`` (a ``--quick`` model: no
cross-validation, no behaviour suite) is refused in one line before the gate runs.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ops import gate
from ops.infra import serving_problem
from sentiment.config import Settings
from sentiment.errors import SentimentError, StartupError, TrainingError
from sentiment.files import write_atomically
from sentiment.lifecycle import registry
from sentiment.model.artifact import LABELS, StoreModel, read_metadata
from sentiment.model.labels import POSITIVE
from sentiment.training.behaviour import HEADLINE, pass_rates, run_suite
from sentiment.training.data import clean_reviews, load_reviews, split_eval_slice
from sentiment.training.importing import labelled, not_applicable

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT_DIR / "data" / "rotten_tomatoes_reviews.csv.gz"
DEFAULT_REPORTS = Path("reports") / "promotions"


class GateError(SentimentError):
    """Bad input to the gate: reported as one line, exit code 2."""

    status = 400
    rule = "bad_gate_input"


def load(tag: str) -> tuple[Any, Any]:
    """The stored model (checked) and its loaded serving form.

    Raises:
        GateError: the tag is not in the store.
        StartupError: the model breaks the artifact contract.
    """
    from sentiment.lifecycle.loading import load_model

    stored = StoreModel(resolve(tag)).checked()
    return stored, load_model(stored, Settings())


def labels_of(loaded: Any, texts: list[str]) -> np.ndarray:
    """The label a loaded model gives each text."""
    proba = np.asarray(loaded.predict_proba(texts))
    labels: np.ndarray = np.asarray(loaded.classes)[proba.argmax(axis=1)]
    return labels


def facts(
    stored: Any, loaded: Any, eval_texts: list[str], truth: np.ndarray, speed: float
) -> gate.ModelFacts:
    """What the gate knows of one model."""
    metadata = read_metadata(stored)
    clear = labels_of(loaded, [text for text, _ in gate.MUST_NOT_FLIP])
    sentiment = sorted(loaded.classes) == sorted(LABELS)
    return gate.ModelFacts(
        tag=str(stored.tag),
        labels=list(loaded.classes),
        eval_accuracy=round(float((labels_of(loaded, eval_texts) == truth).mean()), 4),
        cv_mean=metadata.cv.accuracy_mean if metadata.cv else None,
        cv_std=metadata.cv.accuracy_std if metadata.cv else None,
        reviews_per_s=round(speed, 1),
        eval_share=metadata.data.eval_share,
        must_not_flip_wrong=gate.must_not_flip_wrong(list(clear)),
        behaviour=headline_rates(loaded) if sentiment else {},
        cv_folds=list(metadata.cv.fold_accuracies) if metadata.cv else [],
        cv_split=cv_split(metadata),
        imported=metadata.imported.evaluated_on if metadata.imported else "",
        sentiment=sentiment,
    )


def cv_split(metadata: Any) -> str:
    """What makes two models' CV folds the same: data, slice, seed, fold count."""
    cv = metadata.cv
    if cv is None or cv.seed is None or not cv.fold_accuracies:
        return ""
    return f"{metadata.data.sha256}:{metadata.data.eval_share}:{cv.seed}:{cv.folds}"


def headline_rates(loaded: Any) -> dict[str, float]:
    """The behaviour suite's headline pass rates of a loaded model, measured now."""
    column = list(loaded.classes).index(POSITIVE)
    rates = pass_rates(
        run_suite(lambda texts: np.asarray(loaded.predict_proba(texts))[:, column])
    )
    return {name: rates[name] for name in HEADLINE}


def evaluation_set(loaded: Any, args: argparse.Namespace) -> Any:
    """The labelled reviews both models are measured on.

    The evaluation slice of ``--data`` for the sentiment pair (``data/`` by
    default); for other labels all of ``--data``, the candidate's own labelled file.

    Raises:
        GateError: other labels and no ``--data`` of them.
    """
    if sorted(loaded.classes) == sorted(LABELS):
        reviews, _ = clean_reviews(load_reviews(args.data))
        return split_eval_slice(reviews)[1]
    if args.data == DEFAULT_DATA:
        raise GateError(
            f"the candidate's labels {loaded.classes} are not data/'s: give "
            "--data FILE (and --text-column, --label-column) with its labels"
        )
    return labelled(args.data, args.text_column, args.label_column)


def run_gate(
    candidate_tag: str,
    production_tag: str | None,
    args: argparse.Namespace,
    logs: list[Path],
) -> dict[str, Any]:
    """Measure both models side by side and decide; the gate report."""
    stored, loaded = load(candidate_tag)
    models = [(stored, loaded)]
    if production_tag:
        models.insert(0, load(production_tag))
    eval_slice = evaluation_set(loaded, args)
    texts, truth = list(eval_slice["text"]), np.asarray(eval_slice["label"])
    speeds = gate.alternating_speed([m.predict_proba for _, m in models], texts)
    measured = [
        facts(s, m, texts, truth, speed)
        for (s, m), speed in zip(models, speeds, strict=True)
    ]
    candidate = measured[-1]
    production = measured[0] if production_tag else None
    paired, traffic = None, None
    if production_tag:
        prod_loaded = models[0][1]
        paired = gate.paired_outcome(
            truth, labels_of(prod_loaded, texts), labels_of(loaded, texts)
        )
        logged = gate.read_logged_texts(logs)
        if logged:
            traffic = gate.agreement(
                logged,
                list(labels_of(prod_loaded, logged)),
                list(labels_of(loaded, logged)),
            )
    problem = serving_problem(candidate_tag)
    checks = gate.decide(production, candidate, paired, problem, args.new_labels)
    return gate.as_report(production, candidate, checks, traffic)


def print_report(report: dict[str, Any]) -> None:
    """The table, then the traffic agreement if any."""
    checks = [gate.Check(**check) for check in report["checks"]]
    print(gate.format_table(checks))
    traffic = report["traffic_agreement"]
    if traffic:
        print(
            f"\nagreement with production on {traffic['n']:,} logged reviews: "
            f"{traffic['agreement']:.1%}"
        )
        for row in traffic["disagreeing"]:
            print(
                f"  production {row['production']}, candidate {row['candidate']}: "
                f"{row['text'][:100]!r}"
            )


def save_report(report: dict[str, Any], directory: Path, tag: str) -> Path:
    """Write the report as JSON; its name carries the candidate's version."""
    path = directory / f"{tag.replace(':', '-')}.json"
    text = json.dumps(report, indent=2, sort_keys=True) + "\n"
    write_atomically(path, lambda tmp: tmp.write_text(text))
    return path


def promote(args: argparse.Namespace) -> int:
    """Run the gate on the candidate; promote it when every check passes."""
    name = args.model_name
    candidate = resolve(args.tag or f"{name}:latest")
    production = registry.production_tag(name)
    if candidate == production:
        print(f"promote: {candidate} is already the production model")
        return 0
    try:
        metadata = read_metadata(StoreModel(candidate).checked())
        skipped = not_applicable(metadata.imported)
        if missing := [m for m in metadata.checks.missing() if m not in skipped]:
            print(
                f"promote: refused {candidate}: it has had no {' or '.join(missing)}; "
                "`make train` trains a candidate with every check",
                file=sys.stderr,
            )
            return 1
        print(
            f"gate: candidate {candidate} against production {production or '(none)'}"
        )
        report = run_gate(candidate, production, args, expand(args.log))
    except StartupError as error:
        print(f"promote: refused: contract: {error}", file=sys.stderr)
        return 1
    print_report(report)
    path = save_report(report, args.reports, candidate)
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    if failed:
        print(
            f"promote: refused {candidate}: failed {', '.join(failed)} (report {path})"
        )
        return 1
    entry = registry.set_production(
        name, candidate, "promote", gate.report_sha256(report)
    )
    print(
        f"promoted {candidate} (was {entry['from'] or 'none'}); report {path}; "
        "servers that follow production swap to it within seconds"
    )
    return 0


def rollback(args: argparse.Namespace) -> int:
    """Make the previous production model current again."""
    name = args.model_name
    current = registry.production_tag(name)
    previous = registry.previous_production(name)
    if previous is None:
        print(
            f"rollback: nothing to roll back to (production: {current})",
            file=sys.stderr,
        )
        return 1
    try:
        StoreModel(previous).checked()
    except StartupError as error:
        print(f"rollback: refused: {error}", file=sys.stderr)
        return 1
    registry.set_production(name, previous, "rollback")
    print(f"rolled back: production is {previous} again (was {current})")
    return 0


def resolve(tag: str) -> str:
    """A full tag (``name:latest`` becomes the newest version's tag).

    Raises:
        GateError: no such model.
    """
    stored = StoreModel(tag).stored
    if stored is None:
        raise GateError(f"no model {tag} in the model store; `bentoml models list`")
    return str(stored.tag)


def expand(pattern: str | None) -> list[Path]:
    """The prediction log files a glob names (none without a pattern)."""
    return [Path(p) for p in sorted(glob.glob(pattern))] if pattern else []


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="make promote",
        description="Promote a candidate to production through the gate, or roll back.",
    )
    parser.add_argument("--tag", help="candidate tag (default: the newest model)")
    parser.add_argument(
        "--model-name", default="sentiment", help="(default: %(default)s)"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="corpus with the evaluation slice",
    )
    parser.add_argument("--text-column", default="text", help="(default: %(default)s)")
    parser.add_argument(
        "--label-column", default="label", help="(default: %(default)s)"
    )
    parser.add_argument(
        "--new-labels",
        action="store_true",
        help="let the candidate serve other labels than production (clients change)",
    )
    parser.add_argument(
        "--log", help="prediction log glob (written with SENTIMENT_LOG_TEXT=1)"
    )
    parser.add_argument(
        "--reports", type=Path, default=DEFAULT_REPORTS, help="(default: %(default)s)"
    )
    parser.add_argument(
        "--rollback", action="store_true", help="make the previous production current"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Promote or roll back; the exit code (0 done, 1 refused, 2 bad input)."""
    args = parse_args(argv)
    try:
        return rollback(args) if args.rollback else promote(args)
    except (GateError, TrainingError) as error:
        print(f"promote: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

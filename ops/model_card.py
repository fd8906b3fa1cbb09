"""Print a model's card as Markdown and draw its reliability plot.

Usage:
    python -m ops.model_card [--model TAG] [--png model-card.png]

The card is what ``train.py`` measured on the evaluation slice and stored in
the model's metadata (``sentiment.training.card``); ``/model-info`` serves the
same data.
Default model: production, else the newest. Exits 2 when the model has no card
(trained before cards existed) or is not in the store.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from sentiment.lifecycle.registry import serving_choice
from sentiment.model.artifact import StoreModel, read_metadata
from sentiment.model.metadata import Checks, ModelCard
from sentiment.training.behaviour import HEADLINE, TARGETS


def markdown(tag: str, card: ModelCard, metadata: Any) -> str:
    """The card as Markdown."""
    lines = [
        f"# Model card: {tag}",
        "",
        f"- preset: {metadata.preset}; trained on {metadata.data.rows_train:,} reviews "
        f"({metadata.data.path}, sha256 {metadata.data.sha256[:12]}...)",
        f"- measured on: {card.evaluated_on} ({card.n_eval:,} reviews)",
        f"- accuracy {metadata.metrics.accuracy:.4f}, macro-F1 "
        f"{metadata.metrics.f1_macro:.4f}, ROC AUC {metadata.metrics.roc_auc:.4f}",
    ]
    if metadata.cv:
        folds = ", ".join(f"{a:.4f}" for a in metadata.cv.fold_accuracies)
        lines.append(
            f"- {metadata.cv.folds}-fold CV accuracy {metadata.cv.accuracy_mean:.4f} "
            f"± {metadata.cv.accuracy_std:.4f}"
            + (f" (folds {folds}; seed {metadata.cv.seed})" if folds else "")
        )
    lines.append(f"- expected calibration error (10 bins): {card.ece:.3f}")
    lines.append(checks_line(metadata.checks))
    lines += accuracy_and_behaviour_lines(
        metadata.metrics.accuracy, card.n_eval, metadata.behaviour
    )
    lines += [
        "",
        "## Reliability",
        "",
        "| P(positive) | reviews | mean predicted | share positive |",
        "|---|---:|---:|---:|",
    ]
    for b in card.reliability:
        predicted = "-" if b.mean_predicted is None else f"{b.mean_predicted:.3f}"
        observed = "-" if b.share_positive is None else f"{b.share_positive:.3f}"
        lines.append(
            f"| {b.low:.1f}-{b.high:.1f} | {b.count} | {predicted} | {observed} |"
        )
    lines += [
        "",
        "## Accuracy by length",
        "",
        "| words | reviews | accuracy |",
        "|---|---:|---:|",
    ]
    for bucket in card.accuracy_by_length:
        words = (
            f"{bucket.min_words}-{bucket.max_words}"
            if bucket.max_words
            else f"{bucket.min_words}+"
        )
        accuracy = "-" if bucket.accuracy is None else f"{bucket.accuracy:.3f}"
        lines.append(f"| {words} | {bucket.count} | {accuracy} |")
    lines += behaviour_lines(metadata.behaviour)
    lines += ["", "## Known limits", ""] + [f"- {limit}" for limit in card.limits]
    return "\n".join(lines) + "\n"


def checks_line(checks: Checks) -> str:
    """Which of train.py's checks the model has had, and how to get the rest."""
    missing = checks.missing()
    if not missing:
        return "- checks: cross-validation, calibration, behaviour suite (all)"
    return (
        f"- **not checked yet: {', '.join(missing)}** (a quick first model; "
        "`make train` trains a candidate with every check)"
    )


def wilson_interval(share: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a share measured on ``n`` examples."""
    if n <= 0:
        return 0.0, 1.0
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = (
        z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    )
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_and_behaviour_lines(
    accuracy: float, n_eval: int, rates: dict[str, float] | None
) -> list[str]:
    """Accuracy with its interval beside the headline pass rates: one table.

    Neither alone says whether a model is better: a higher pass rate bought with
    accuracy outside this interval is a loss users meet first.
    """
    low, high = wilson_interval(accuracy, n_eval)
    lines = [
        "",
        "## Accuracy and behaviour",
        "",
        "| measure | value | 95% interval |",
        "|---|---:|---:|",
        f"| accuracy, evaluation slice ({n_eval:,} reviews) | {accuracy:.4f} | "
        f"{low:.4f}-{high:.4f} |",
    ]
    for name in HEADLINE:
        if rates and name in rates:
            lines.append(f"| behaviour: {name} | {rates[name]:.1%} | |")
    return lines


def behaviour_lines(rates: dict[str, float] | None) -> list[str]:
    """The behaviour suite's pass rates, the headline ones against their targets."""
    if not rates:
        return []
    lines = [
        "",
        "## Behaviour (`make behaviour`)",
        "",
        "| capability | pass rate | target |",
        "|---|---:|---:|",
    ]
    for name, rate in rates.items():
        target = TARGETS.get(name)
        mark = "" if target is None else f"{target:.0%}"
        if target is not None and rate < target:
            mark += " **below**"
        lines.append(f"| {name} | {rate:.1%} | {mark} |")
    return lines


def plot(tag: str, card: ModelCard, path: Path) -> None:
    """The reliability diagram and accuracy by length, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    bins = [b for b in card.reliability if b.count]
    left.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    left.plot(
        [b.mean_predicted for b in bins],
        [b.share_positive for b in bins],
        marker="o",
        label=f"model (ECE {card.ece:.3f})",
    )
    left.set(xlabel="mean predicted P(positive)", ylabel="share actually positive")
    left.set_title("Reliability on the evaluation slice")
    left.legend(loc="upper left")
    buckets = card.accuracy_by_length
    names = [
        f"{b.min_words}-{b.max_words}" if b.max_words else f"{b.min_words}+"
        for b in buckets
    ]
    right.bar(names, [b.accuracy or 0 for b in buckets])
    for index, bucket in enumerate(buckets):
        right.annotate(
            f"n={bucket.count}", (index, (bucket.accuracy or 0) + 0.01), ha="center"
        )
    right.set(xlabel="review length (words)", ylabel="accuracy", ylim=(0, 1))
    right.set_title("Accuracy by length")
    figure.suptitle(tag)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    """Print the card, write the plot; 0, or 2 when there is no card."""
    parser = argparse.ArgumentParser(prog="make model-card", description=__doc__)
    parser.add_argument("--model", help="model tag (default: production, else newest)")
    parser.add_argument("--png", type=Path, default=Path("model-card.png"))
    args = parser.parse_args(argv)
    tag = args.model or serving_choice(None, "sentiment").tag
    stored = StoreModel(tag).stored
    if stored is None:
        print(f"model-card: error: no model {tag} in the model store", file=sys.stderr)
        return 2
    metadata = read_metadata(stored)
    if metadata.card is None:
        print(
            f"model-card: error: {stored.tag} has no card (trained before cards "
            "existed): retrain with `make train`",
            file=sys.stderr,
        )
        return 2
    print(markdown(str(stored.tag), metadata.card, metadata))
    plot(str(stored.tag), metadata.card, args.png)
    print(f"reliability plot written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drift report: compare a window of the prediction log with what training saw.

Usage: ``python -m ops.drift LOG [LOG ...] [--since 2026-11-27T00:00]
[--model sentiment:latest] [--png drift.png]`` (``make drift LOG=...``).

Reads the JSON lines the service writes with ``SENTIMENT_PREDICTION_LOG`` (each
worker's file, rotated files included when named), keeps those at or after
``--since``, and compares them with the reference that ``train.py`` stored in the
model's metadata from the held-out split:

- the share of positive predictions (alert when it moves more than
  ``--max-positive-shift``, 0.15 by default);
- the histogram of P(positive), by the population stability index (alert above
  ``--max-psi``, 0.25, the usual "significant shift");
- the share of reviews with no feature the model knows (alert when it exceeds
  the training share by more than ``--max-unknown-rise``, 0.05): the early warning
  for new slang or a new domain.

Prints a table, writes a PNG, and exits 1 when a threshold is passed (0 when
not, 2 on bad input), so a cron job or CI step can alert.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.errors import SentimentError
from sentiment.telemetry.prediction_log import is_shadow, read_records

EPSILON = 1e-4  # floor for empty histogram bins in the PSI


class DriftError(SentimentError):
    """Bad input: reported as one line and exit code 2."""

    status = 400
    rule = "bad_drift_input"


@dataclass(frozen=True)
class Check:
    """One comparison and its verdict."""

    name: str
    reference: float
    current: float
    statistic: str
    value: float
    limit: float

    @property
    def drifted(self) -> bool:
        """Whether the statistic passed its limit."""
        return self.value > self.limit


def parse_since(raw: str | None) -> float:
    """``--since`` as epoch seconds (ISO 8601; naive times are UTC)."""
    if not raw:
        return 0.0
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise DriftError(f"--since must be an ISO 8601 time, got {raw!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def read_log(paths: list[Path], since: float) -> list[dict[str, Any]]:
    """Log records at or after ``since`` from every file given.

    Raises:
        DriftError: a file is missing, or no record is left.
    """
    for path in paths:
        if not path.is_file():
            raise DriftError(f"log file not found: {path}")
    records = [
        record
        for record in read_records(paths)
        if record.get("time", 0) >= since
        and "score" in record
        and not is_shadow(record)
    ]
    if not records:
        raise DriftError("no predictions in the log window")
    return records


def positive_probability(records: list[dict[str, Any]]) -> np.ndarray:
    """P(positive) of each logged prediction."""
    return np.array(
        [r["score"] if r["label"] == "positive" else 1.0 - r["score"] for r in records]
    )


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index between two histograms of the same bins."""
    ref = np.maximum(reference / reference.sum(), EPSILON)
    cur = np.maximum(current / current.sum(), EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def compare(
    records: list[dict[str, Any]], reference: dict[str, Any], args: argparse.Namespace
) -> list[Check]:
    """The three checks of the module docstring."""
    probability = positive_probability(records)
    edges = np.array(reference["score_edges"])
    ref_hist = np.array(reference["score_counts"], dtype=float)
    cur_hist = np.histogram(probability, bins=edges)[0].astype(float)
    share = float(np.mean(probability >= 0.5))
    checks = [
        Check(
            "positive share",
            reference["positive_share"],
            share,
            "absolute change",
            abs(share - reference["positive_share"]),
            args.max_positive_shift,
        ),
        Check(
            "P(positive) histogram",
            float("nan"),
            float("nan"),
            "PSI",
            psi(ref_hist, cur_hist),
            args.max_psi,
        ),
    ]
    known = [r["known_features"] for r in records if "known_features" in r]
    if known:
        unknown = float(np.mean(np.array(known) == 0))
        checks.append(
            Check(
                "no known features",
                reference["unknown_share"],
                unknown,
                "rise",
                unknown - reference["unknown_share"],
                args.max_unknown_rise,
            )
        )
    return checks


def table(checks: list[Check], count: int) -> str:
    """The report as plain text."""
    lines = [
        f"drift report over {count:,} logged predictions",
        f"{'check':<24}{'training':>10}{'log':>10}  {'statistic':<16}"
        f"{'value':>8}{'limit':>8}  verdict",
    ]
    for c in checks:
        lines.append(
            f"{c.name:<24}{c.reference:>10.3f}{c.current:>10.3f}  {c.statistic:<16}"
            f"{c.value:>8.3f}{c.limit:>8.3f}  {'DRIFT' if c.drifted else 'ok'}"
        )
    return "\n".join(lines).replace("       nan", "         -")


def plot(records: list[dict[str, Any]], reference: dict[str, Any], path: Path) -> None:
    """Reference and logged P(positive) histograms side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.array(reference["score_edges"])
    ref = np.array(reference["score_counts"], dtype=float)
    cur = np.histogram(positive_probability(records), bins=edges)[0].astype(float)
    centers = (edges[:-1] + edges[1:]) / 2
    width = (edges[1] - edges[0]) * 0.4
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.bar(centers - width / 2, ref / ref.sum(), width, label="training (held-out)")
    ax.bar(centers + width / 2, cur / cur.sum(), width, label="prediction log")
    ax.set_xlabel("P(positive)")
    ax.set_ylabel("share of reviews")
    ax.set_title("Score distribution: training against the log window")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def model_reference(tag: str) -> dict[str, Any]:
    """The drift reference ``train.py`` stored with the model."""
    import bentoml

    try:
        metadata = bentoml.models.get(tag).info.metadata
    except bentoml.exceptions.NotFound:
        raise DriftError(f"model {tag!r} not found in the model store") from None
    if "reference" not in metadata:
        raise DriftError(
            f"model {tag} has no drift reference: train.py stores one, make import "
            "for the negative/positive pair only"
        )
    reference: dict[str, Any] = metadata["reference"]  # type: ignore[assignment]
    return reference


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path, help="prediction log file(s)")
    parser.add_argument("--since", help="ISO 8601 start of the window (default: all)")
    parser.add_argument(
        "--model",
        help="model whose reference to compare with (default: the log's model)",
    )
    parser.add_argument("--png", type=Path, default=Path("drift.png"))
    parser.add_argument("--max-positive-shift", type=float, default=0.15)
    parser.add_argument("--max-psi", type=float, default=0.25)
    parser.add_argument("--max-unknown-rise", type=float, default=0.05)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the report; 0 no drift, 1 drift, 2 bad input."""
    args = parse_args(argv)
    try:
        records = read_log(args.logs, parse_since(args.since))
        reference = model_reference(args.model or records[-1]["model"])
    except DriftError as error:
        print(f"drift: error: {error}", file=sys.stderr)
        return 2
    checks = compare(records, reference, args)
    print(table(checks, len(records)))
    plot(records, reference, args.png)
    print(f"histograms written to {args.png}")
    return 1 if any(c.drifted for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Shadow report: how a shadow model would have answered the live traffic.

Usage:
    python -m ops.shadow_report 'logs/predictions.w*.jsonl' [--show 10]

Reads the ``"kind": "shadow"`` lines the workers write with
``SENTIMENT_SHADOW_TAG`` and ``SENTIMENT_PREDICTION_LOG`` set; prints the
agreement, both models' score distributions, and the reviews they disagree on
(the texts only when the log keeps them, ``SENTIMENT_LOG_TEXT=1``). Exits 2 when
the files hold no shadow lines.
"""

from __future__ import annotations

import argparse
import glob
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.telemetry.prediction_log import is_shadow, read_records

BINS = 10


def shadow_records(paths: list[Path]) -> list[dict[str, Any]]:
    """The shadow lines of prediction logs, in file order."""
    return [record for record in read_records(paths) if is_shadow(record)]


def summarise(records: list[dict[str, Any]], show: int) -> dict[str, Any]:
    """Agreement, score histograms and disagreeing examples."""
    live = np.array([r["score"] for r in records])
    shadow = np.array([r["shadow_score"] for r in records])
    differ = [r for r in records if r["label"] != r["shadow_label"]]
    edges = np.linspace(0, 1, BINS + 1)
    return {
        "n": len(records),
        "agreement": 1 - len(differ) / len(records),
        "pairs": Counter((r["model"], r["shadow_model"]) for r in records),
        "label_shares": label_shares(records),
        "histograms": (
            np.histogram(live, edges)[0].tolist(),
            np.histogram(shadow, edges)[0].tolist(),
        ),
        "disagreeing": differ[:show],
    }


def label_shares(records: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Each label's share of the live and of the shadow answers."""
    live = Counter(r["label"] for r in records)
    shadow = Counter(r["shadow_label"] for r in records)
    n = len(records)
    return {
        label: (live[label] / n, shadow[label] / n) for label in sorted(live | shadow)
    }


def render(summary: dict[str, Any]) -> str:
    """The report as text."""
    lines = [
        f"shadow-scored reviews: {summary['n']:,}",
        *(
            f"  live {live} / shadow {shadow}: {count:,}"
            for (live, shadow), count in summary["pairs"].items()
        ),
        f"agreement: {summary['agreement']:.1%}",
        *(
            f"{label} share: live {ours:.1%}, shadow {theirs:.1%}"
            for label, (ours, theirs) in summary["label_shares"].items()
        ),
        "",
        f"{'label score':<12}{'live':>8}{'shadow':>8}",
    ]
    live, shadow = summary["histograms"]
    for index, (a, b) in enumerate(zip(live, shadow, strict=True)):
        low = index / BINS
        lines.append(f"{low:.1f}-{low + 1 / BINS:.1f}{'':<5}{a:>8}{b:>8}")
    if summary["disagreeing"]:
        lines += ["", "disagreeing (live -> shadow):"]
    for record in summary["disagreeing"]:
        shown = record.get("text") or f"(text not logged: {record.get('text_sha256')})"
        lines.append(
            f"  {record['label']} {record['score']:.2f} -> {record['shadow_label']} "
            f"{record['shadow_score']:.2f}: {shown[:100]!r}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print the report; 0, or 2 when there is nothing to report."""
    parser = argparse.ArgumentParser(prog="make shadow-report", description=__doc__)
    parser.add_argument("log", help="prediction log file or glob")
    parser.add_argument("--show", type=int, default=10, help="disagreements to show")
    args = parser.parse_args(argv)
    records = shadow_records([Path(p) for p in sorted(glob.glob(args.log))])
    if not records:
        print(
            f"shadow-report: error: no shadow lines in {args.log!r} (serve with "
            "SENTIMENT_SHADOW_TAG and SENTIMENT_PREDICTION_LOG set)",
            file=sys.stderr,
        )
        return 2
    print(render(summarise(records, args.show)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

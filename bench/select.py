"""Model selection: every candidate's 5-fold CV accuracy, speed and size, one run.

Usage: ``python -m bench.select [--folds 5]`` (``make select``). Prints the table,
writes ``bench/selection.json``, ``bench/selection.md`` and the accuracy-against-
throughput plot ``bench/selection.png``, and says which candidate the rule picks:
the most accurate candidate that runs at >= 10,000 reviews/s on one core, unless
a clearly faster one (>= 1.5x at batch 128) is within one fold standard deviation
of it: then the most accurate of those. A slower candidate wins only by more than
the fold noise; speed differences under 1.5x are taken as measurement noise
(candidates that differ only in C cost the same).
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from sentiment.data import clean_reviews, load_reviews
from sentiment.model import PRESETS, ModelParams, build_pipeline, scorer
from sentiment.model import speed_up_inference as lean_weights

BENCH_DIR = Path(__file__).resolve().parent
DATA = BENCH_DIR.parent / "data" / "rotten_tomatoes_reviews.csv.gz"
SPEED_FLOOR = 10_000  # reviews/s on one core at batch 128
CLEARLY_FASTER = 1.5  # smaller speed ratios are within this machine's noise
CANDIDATES: dict[str, ModelParams] = {
    "classic (sklearn word+char, LR+NB vote)": PRESETS["classic"].params,
    "sklearn word+char, LR": replace(PRESETS["classic"].params, classifier="logreg"),
    "hashed word+char, LR C=10 [accurate]": PRESETS["accurate"].params,
    "hashed word+char, LR C=30": replace(PRESETS["accurate"].params, C=30.0),
    "hashed word+char, LR C=3": replace(PRESETS["accurate"].params, C=3.0),
    "hashed word+char 2^18 buckets, LR": replace(
        PRESETS["accurate"].params, n_features=1 << 18
    ),
    "hashed word+char 2-5, LR": replace(PRESETS["accurate"].params, char_ngrams=(2, 5)),
    "hashed word+char, LR+NB vote": replace(
        PRESETS["accurate"].params, classifier="vote"
    ),
    "hashed char 3-5 only, LR": replace(PRESETS["accurate"].params, word_ngrams=None),
    "hashed word 1-2 only, LR [fast]": PRESETS["fast"].params,
}


@dataclass
class Result:
    """One candidate's scores."""

    name: str
    params: dict[str, Any]
    accuracy_mean: float
    accuracy_std: float
    fold_accuracies: list[float]
    per_s_batch1: float
    per_s_batch128: float
    artifact_mb: float


def rate(predict: Any, texts: list[str], batch: int, seconds: float = 1.5) -> float:
    """Reviews per second of ``predict`` on one core at one batch size."""
    done, offset, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predict(texts[offset : offset + batch])
        offset = (offset + batch) % (len(texts) - batch)
        done += batch
    return done / (time.perf_counter() - start)


def evaluate(
    name: str, params: ModelParams, reviews: pd.DataFrame, folds: int
) -> Result:
    """Cross-validated accuracy, then speed and size of a model fitted on all data."""
    from sklearn.model_selection import StratifiedKFold

    texts = np.asarray(reviews["text"], dtype=object)
    labels = np.asarray(reviews["label"])
    accuracies = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=42)
    for train_index, test_index in splitter.split(texts, labels):
        pipeline = build_pipeline(params).fit(
            list(texts[train_index]), labels[train_index]
        )
        predict = scorer(lean_weights(pipeline))
        predicted = np.asarray(pipeline.classes_)[
            predict(list(texts[test_index])).argmax(1)
        ]
        accuracies.append(float((predicted == labels[test_index]).mean()))
    pipeline = lean_weights(build_pipeline(params).fit(list(texts), labels))
    predict = scorer(pipeline)
    sample = list(texts[:3000])
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    return Result(
        name=name,
        params=asdict(params),
        accuracy_mean=float(np.mean(accuracies)),
        accuracy_std=float(np.std(accuracies)),
        fold_accuracies=accuracies,
        per_s_batch1=rate(predict, sample, 1),
        per_s_batch128=rate(predict, sample, 128),
        artifact_mb=len(buffer.getvalue()) / 1e6,
    )


def pick(results: list[Result]) -> Result:
    """The selection rule (see the module docstring)."""
    fast_enough = [r for r in results if r.per_s_batch128 >= SPEED_FLOOR] or results
    best = max(fast_enough, key=lambda r: r.accuracy_mean)
    clearly_faster = [
        r
        for r in fast_enough
        if r.accuracy_mean >= best.accuracy_mean - best.accuracy_std
        and r.per_s_batch128 >= CLEARLY_FASTER * best.per_s_batch128
    ]
    return max(clearly_faster, key=lambda r: r.accuracy_mean, default=best)


def markdown(results: list[Result], chosen: Result, folds: int) -> str:
    """The selection table."""
    lines = [
        f"# Model selection ({folds}-fold CV, shipped corpus, one core)",
        "",
        "| candidate | CV accuracy | reviews/s batch 1 | reviews/s batch 128 | artifact MB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in sorted(results, key=lambda r: -r.accuracy_mean):
        mark = " **(chosen)**" if r is chosen else ""
        lines.append(
            f"| {r.name}{mark} | {r.accuracy_mean:.4f} ± {r.accuracy_std:.4f} | "
            f"{r.per_s_batch1:,.0f} | {r.per_s_batch128:,.0f} | {r.artifact_mb:.1f} |"
        )
    lines += [
        "",
        f"Rule: the most accurate candidate at >= {SPEED_FLOOR:,} reviews/s at batch 128, "
        f"unless one >= {CLEARLY_FASTER}x faster is within one fold std of it.",
    ]
    return "\n".join(lines) + "\n"


def plot(results: list[Result], chosen: Result, path: Path) -> None:
    """Accuracy against batched throughput, one point per candidate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 6))
    for r in results:
        ax.errorbar(
            r.per_s_batch128,
            r.accuracy_mean,
            yerr=r.accuracy_std,
            fmt="o",
            color="tab:red" if r is chosen else "tab:blue",
            capsize=3,
        )
        ax.annotate(
            r.name,
            (r.per_s_batch128, r.accuracy_mean),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.axvline(SPEED_FLOOR, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("reviews/s at batch 128, one core (log)")
    ax.set_ylabel("5-fold CV accuracy (mean ± std)")
    ax.set_title("Candidates: accuracy against throughput (red: chosen default)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    """Evaluate every candidate and write the reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="re-apply the rule to bench/selection.json and rewrite the reports",
    )
    args = parser.parse_args(argv)
    if args.report_only:
        saved = json.loads((BENCH_DIR / "selection.json").read_text())
        return write_reports([Result(**r) for r in saved["results"]], saved["folds"])
    reviews, _ = clean_reviews(load_reviews(DATA))
    results = []
    for name, params in CANDIDATES.items():
        result = evaluate(name, params, reviews, args.folds)
        print(
            f"{name:<45} {result.accuracy_mean:.4f} ± {result.accuracy_std:.4f}  "
            f"b1 {result.per_s_batch1:>8,.0f}/s  b128 {result.per_s_batch128:>9,.0f}/s  "
            f"{result.artifact_mb:5.1f} MB",
            flush=True,
        )
        results.append(result)
    return write_reports(results, args.folds)


def write_reports(results: list[Result], folds: int) -> int:
    """Pick by the rule; write selection.json, selection.md and selection.png."""
    chosen = pick(results)
    print(f"chosen: {chosen.name}")
    report = {
        "folds": folds,
        "chosen": chosen.name,
        "results": [asdict(r) for r in results],
    }
    (BENCH_DIR / "selection.json").write_text(json.dumps(report, indent=2) + "\n")
    (BENCH_DIR / "selection.md").write_text(markdown(results, chosen, folds))
    plot(results, chosen, BENCH_DIR / "selection.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Model selection: every candidate's CV accuracy, behaviour, speed and size, one run.

Usage: ``python -m bench.select [--folds 5]`` (``make select``). Prints the table,
writes ``bench/results/selection.json``, ``bench/results/selection.md`` and the accuracy-against-
throughput plot ``bench/results/selection.png``, and says which candidate the rule picks.

The rule cannot hide a loss of accuracy. The most accurate candidate by CV mean is
the *best*; a candidate is *non-inferior* when, against the best, (1) its CV mean
is within the best's fold std, (2) a one-sided paired t-test over the same CV
folds does not find it worse (p >= 0.05), and (3) the exact McNemar test on the
evaluation slice (as the promotion gate runs it) does not find it worse
(p >= 0.05). Among the non-inferior candidates at >= 10,000 reviews/s on one
core (batch 128), the best behaved wins (the mean headline pass rate of the
behaviour suite, :mod:`sentiment.training.behaviour`, to the point), then the fastest.
Every candidate's paired difference to the best is printed.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from bench.alternate import in_turn
from ops.gate import MCNEMAR_ALPHA, mcnemar_p_worse, paired_t_p_worse
from sentiment.model.scorer import scorer
from sentiment.model.scorer import speed_up_inference as lean_weights
from sentiment.training.behaviour import HEADLINE, behaviour_pass_rates, headline_score
from sentiment.training.data import clean_reviews, load_reviews, split_eval_slice
from sentiment.training.pipeline import (
    BEHAVED,
    GATED,
    PRESETS,
    ModelParams,
    fit_pipeline,
)
from sentiment.training.progress import Progress, quiet

RESULTS_DIR = Path(__file__).resolve().parent / "results"  # committed reports
DATA = RESULTS_DIR.parents[1] / "data" / "rotten_tomatoes_reviews.csv.gz"
SPEED_FLOOR = 10_000  # reviews/s on one core at batch 128
SPEED_ROUNDS = 5  # timings per model and batch size, taken in turn; the median counts
SPEED_SECONDS = 0.4
NGRAMS = PRESETS["ngrams"].params
REFERENCE = "hashed word+char, LR C=10 [ngrams: the default before]"
SCOPED = replace(NGRAMS, negated_weight=0.0, contrast_weight=0.3)
BEFORE = replace(SCOPED, lexicon=True, counterfactuals=True)  # accurate until now
CANDIDATES: dict[str, ModelParams] = {
    "hashed word+char, LR C=10 [ngrams: the default before]": NGRAMS,
    "hashed word+char, LR C=3": replace(NGRAMS, C=3.0),
    "hashed word 1-2 only, LR [fast]": PRESETS["fast"].params,
    "+ negation scope flipped, contrast 0.3": replace(SCOPED, negated_weight=-1.0),
    "+ negation scope dropped, contrast 0.3": SCOPED,
    "+ lexicon feature": replace(NGRAMS, lexicon=True),
    "+ scopes + lexicon": replace(SCOPED, lexicon=True),
    "+ scopes + lexicon + counterfactuals [accurate before the swaps]": BEFORE,
    "+ scopes (contrast 0) + lexicon + counterfactuals": replace(
        BEFORE, contrast_weight=0.0
    ),
    "+ scopes + lexicon + counterfactuals, C=3": replace(BEFORE, C=3.0),
    "+ scopes + lexicon + counterfactuals, C=30": replace(BEFORE, C=30.0),
    "+ scopes + lexicon + counterfactuals, word 1-3": replace(
        BEFORE, word_ngrams=(1, 3)
    ),
    "+ scopes + lexicon + counterfactuals, word 1-3 + char 2-6": replace(
        BEFORE, word_ngrams=(1, 3), char_ngrams=(2, 6)
    ),
    "+ lexicon typos": replace(BEFORE, lexicon_typos=True),
    "+ polarity swaps": replace(BEFORE, polarity_swaps=True),
    "+ polarity swaps + lexicon typos": replace(
        BEFORE, polarity_swaps=True, lexicon_typos=True
    ),
    "+ polarity swaps (weight 0.5) + lexicon typos [augmented: the default before]": (
        BEHAVED
    ),
    "hashed word 1-3 + char 2-6, LR C=10": replace(
        NGRAMS, word_ngrams=(1, 3), char_ngrams=(2, 6)
    ),
    "+ polarity swaps (weight 0.25) + lexicon typos": replace(
        BEHAVED, swap_weight=0.25
    ),
    "+ scopes + typo lexicon, no counterfactuals [the n-gram view]": replace(
        BEHAVED, counterfactuals=False, polarity_swaps=False
    ),
    **{
        f"n-gram view + behaviour view blended at {blend}"
        + (" [blended]" if blend == 0.3 else ""): replace(
            BEHAVED, behaviour_blend=blend
        )
        for blend in (0.3, 0.4, 0.5)
    },
    **{
        f"n-gram view, block scales refitted with counterfactuals at {weight}": replace(
            BEHAVED, behaviour_refit=weight
        )
        for weight in (0.5, 1.0, 2.0)
    },
    "n-gram view over evidence-scaled columns (naive Bayes ratio^0.5)": replace(
        BEHAVED, counterfactuals=False, polarity_swaps=False, nb_scale=0.5
    ),
    "n-gram and behaviour views shared by length, half at 11 words": replace(
        GATED, nb_scale=0.0
    ),
    "the same over evidence-scaled columns [accurate: the default]": GATED,
    "the same, half at 13 words": replace(GATED, behaviour_gate_words=13.0),
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
    behaviour: dict[str, float] = field(default_factory=dict)
    slice_accuracy: float | None = None
    slice_correct: str = ""  # "1"/"0" per evaluation-slice review, in slice order
    stages: dict[str, dict[str, float]] = field(default_factory=dict)  # by batch


@dataclass(frozen=True)
class Paired:
    """A candidate against the most accurate one, on the same folds and slice."""

    cv_difference: float  # candidate CV mean - best CV mean
    cv_p_worse: float  # one-sided paired t-test over the folds
    slice_difference: float | None
    slice_b: int  # slice reviews only the best gets right
    slice_c: int  # slice reviews only the candidate gets right
    slice_p_worse: float
    within_std: bool

    @property
    def non_inferior(self) -> bool:
        """No loss the folds or the slice can see (see the module docstring)."""
        return (
            self.within_std
            and self.cv_p_worse >= MCNEMAR_ALPHA
            and self.slice_p_worse >= MCNEMAR_ALPHA
        )


def paired(candidate: Result, best: Result) -> Paired:
    """``candidate``'s paired differences to ``best``."""
    b = c = 0
    if candidate.slice_correct and best.slice_correct:
        ours = np.frombuffer(candidate.slice_correct.encode(), np.uint8) == ord("1")
        theirs = np.frombuffer(best.slice_correct.encode(), np.uint8) == ord("1")
        b, c = int((theirs & ~ours).sum()), int((ours & ~theirs).sum())
    slice_difference = None
    if candidate.slice_accuracy is not None and best.slice_accuracy is not None:
        slice_difference = candidate.slice_accuracy - best.slice_accuracy
    difference = candidate.accuracy_mean - best.accuracy_mean
    return Paired(
        cv_difference=difference,
        cv_p_worse=paired_t_p_worse(candidate.fold_accuracies, best.fold_accuracies),
        slice_difference=slice_difference,
        slice_b=b,
        slice_c=c,
        slice_p_worse=mcnemar_p_worse(b, c),
        within_std=difference >= -best.accuracy_std - 1e-12,
    )


def rate(predict: Any, texts: list[str], batch: int, seconds: float = 1.5) -> float:
    """Reviews per second of ``predict`` on one core at one batch size."""
    done, offset, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predict(texts[offset : offset + batch])
        offset = (offset + batch) % (len(texts) - batch)
        done += batch
    return done / (time.perf_counter() - start)


def time_alternately(
    predicts: dict[str, Any],
    texts: list[str],
    batch: int,
    rounds: int = SPEED_ROUNDS,
    seconds: float = SPEED_SECONDS,
) -> dict[str, float]:
    """Median reviews/s of each model, timed in turn round after round.

    One long timing per model lets the machine's noise (other jobs on a shared
    host) land on some candidates and not others; in turn, it hits all of them.
    """
    for predict in predicts.values():
        rate(predict, texts, batch, 0.1)
    timings = in_turn(
        {
            name: partial(rate, predict, texts, batch, seconds)
            for name, predict in predicts.items()
        },
        rounds,
    )
    return {name: float(np.median(values)) for name, values in timings.items()}


def evaluate(
    name: str,
    params: ModelParams,
    reviews: pd.DataFrame,
    folds: int,
    eval_slice: pd.DataFrame | None = None,
    progress: Progress | None = None,
) -> tuple[Result, Any]:
    """Cross-validated accuracy, size and behaviour of a model fitted on all data.

    With ``eval_slice``, also that model's accuracy on it, review by review;
    ``progress`` hears of each fold and fit as it runs.

    Returns the result (speeds still 0) and the fitted model, timed afterwards
    with every other candidate's by :func:`time_alternately`.
    """
    from sklearn.model_selection import StratifiedKFold

    texts = np.asarray(reviews["text"], dtype=object)
    labels = np.asarray(reviews["label"])
    progress = progress or Progress(quiet)
    accuracies = []
    splitter = StratifiedKFold(folds, shuffle=True, random_state=42)
    for fold, (train_index, test_index) in enumerate(splitter.split(texts, labels), 1):
        with progress.step(f"{name}: fold {fold}/{folds}"):
            train_texts = list(texts[train_index])
            pipeline = fit_pipeline(params, train_texts, labels[train_index])
        predict = scorer(lean_weights(pipeline))
        predicted = np.asarray(pipeline.classes_)[
            predict(list(texts[test_index])).argmax(1)
        ]
        accuracies.append(float((predicted == labels[test_index]).mean()))
    with progress.step(f"{name}: the fit on all, the behaviour suite"):
        pipeline = lean_weights(fit_pipeline(params, list(texts), labels))
        behaviour = behaviour_pass_rates(pipeline)
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    slice_accuracy, slice_correct = None, ""
    if eval_slice is not None:
        predicted = np.asarray(pipeline.classes_)[
            scorer(pipeline)(list(eval_slice["text"])).argmax(1)
        ]
        right = predicted == np.asarray(eval_slice["label"])
        slice_accuracy = float(right.mean())
        slice_correct = "".join("1" if r else "0" for r in right)
    result = Result(
        name=name,
        params=asdict(params),
        accuracy_mean=float(np.mean(accuracies)),
        accuracy_std=float(np.std(accuracies)),
        fold_accuracies=accuracies,
        per_s_batch1=0.0,
        per_s_batch128=0.0,
        artifact_mb=len(buffer.getvalue()) / 1e6,
        behaviour=behaviour,
        slice_accuracy=slice_accuracy,
        slice_correct=slice_correct,
    )
    return result, pipeline


def most_accurate(results: list[Result]) -> Result:
    """The candidate with the best CV mean: what the others are paired with."""
    return max(results, key=lambda r: r.accuracy_mean)


def pick(results: list[Result]) -> Result:
    """The selection rule (see the module docstring)."""
    best = most_accurate(results)
    non_inferior = [r for r in results if r.behaviour and paired(r, best).non_inferior]
    fast_enough = [r for r in non_inferior if r.per_s_batch128 >= SPEED_FLOOR]
    return max(
        fast_enough or non_inferior or [best],
        key=lambda r: (
            round(headline_score(r.behaviour), 2) if r.behaviour else 0.0,
            r.per_s_batch128,
        ),
    )


def stages_table(results: list[Result]) -> list[str]:
    """Microseconds per review of each stage, for the candidates timed by stage."""
    from bench.stages import STAGES

    timed = [r for r in results if r.stages]
    if not timed:
        return []
    lines = [
        "Per-stage time, microseconds per review (`bench/stages.py`):",
        "",
        "| candidate | batch | " + " | ".join(STAGES) + " | total |",
        "| --- | ---: |" + " ---: |" * (len(STAGES) + 1),
    ]
    for r in timed:
        for batch, stages in r.stages.items():
            cells = " | ".join(f"{stages[s]:.1f}" for s in (*STAGES, "total"))
            lines.append(f"| {r.name} | {batch} | {cells} |")
    return lines


def paired_table(results: list[Result]) -> list[str]:
    """Each candidate's paired difference to the most accurate, as Markdown rows."""
    best = most_accurate(results)
    lines = [
        f"Paired with the most accurate candidate ({best.name}):",
        "",
        "| candidate | CV difference | paired t p(worse) | slice accuracy | "
        "slice difference | McNemar b / c | McNemar p(worse) | non-inferior |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in sorted(results, key=lambda r: -r.accuracy_mean):
        pair = paired(r, best)
        slice_text = "-" if r.slice_accuracy is None else f"{r.slice_accuracy:.4f}"
        slice_diff = (
            "-" if pair.slice_difference is None else f"{pair.slice_difference:+.4f}"
        )
        lines.append(
            f"| {r.name} | {pair.cv_difference:+.4f} | {pair.cv_p_worse:.3g} | "
            f"{slice_text} | {slice_diff} | {pair.slice_b} / {pair.slice_c} | "
            f"{pair.slice_p_worse:.3g} | {'yes' if pair.non_inferior else 'no'} |"
        )
    return lines


def markdown(results: list[Result], chosen: Result, folds: int) -> str:
    """The selection table."""
    lines = [
        f"# Model selection ({folds}-fold CV, shipped corpus, one core)",
        "",
        "| candidate | CV accuracy | reviews/s batch 1 | reviews/s batch 128 | "
        "artifact MB | " + " | ".join(HEADLINE) + " |",
        "| --- | ---: | ---: | ---: | ---: |" + " ---: |" * len(HEADLINE),
    ]
    for r in sorted(results, key=lambda r: -r.accuracy_mean):
        mark = " **(chosen)**" if r is chosen else ""
        lines.append(
            f"| {r.name}{mark} | {r.accuracy_mean:.4f} ± {r.accuracy_std:.4f} | "
            f"{r.per_s_batch1:,.0f} | {r.per_s_batch128:,.0f} | {r.artifact_mb:.1f} | "
            + " | ".join(f"{r.behaviour.get(name, 0):.0%}" for name in HEADLINE)
            + " |"
        )
    lines += ["", *paired_table(results), "", *stages_table(results)]
    lines += [
        "",
        "Rule: a candidate is non-inferior to the most accurate when its CV mean is "
        "within the best's fold std, a one-sided paired t-test over the same folds "
        f"does not find it worse (p >= {MCNEMAR_ALPHA}) and neither does the exact "
        "McNemar test on the evaluation slice; among the non-inferior candidates at "
        f">= {SPEED_FLOOR:,} reviews/s at batch 128, the best mean pass rate of the "
        "behaviour suite's headline capabilities (`make behaviour`, to the point), "
        "then the fastest.",
        "",
        f"Speeds: the median of {SPEED_ROUNDS} timings of {SPEED_SECONDS} s per model "
        "and batch size, every model timed in turn each round, in one process.",
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
        "--only",
        nargs="+",
        metavar="NAME",
        help="a reduced run: only these candidates (their names in the table)",
    )
    parser.add_argument(
        "--prefix",
        default="selection",
        help="report file names, bench/<prefix>.{json,md,png} (default: %(default)s)",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="re-apply the rule to bench/results/selection.json and rewrite the reports",
    )
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="PREFIX",
        help="join the reports of runs made in chunks (bench/results/<PREFIX>.json; "
        "a candidate in several keeps its first) into --prefix",
    )
    args = parser.parse_args(argv)
    if args.merge:
        merged: dict[str, Result] = {}
        for prefix in args.merge:
            saved = json.loads((RESULTS_DIR / f"{prefix}.json").read_text())
            for r in saved["results"]:
                merged.setdefault(r["name"], Result(**r))
        return write_reports(list(merged.values()), saved["folds"], args.prefix)
    if args.report_only:
        saved = json.loads((RESULTS_DIR / f"{args.prefix}.json").read_text())
        return write_reports(
            [Result(**r) for r in saved["results"]], saved["folds"], args.prefix
        )
    # Models train on the reviews outside the evaluation slice only. The slice
    # does not rank candidates: it can only rule one out (McNemar against the best).
    reviews, eval_slice = split_eval_slice(clean_reviews(load_reviews(DATA))[0])
    results, pipelines = [], {}
    candidates = {
        name: params
        for name, params in CANDIDATES.items()
        if not args.only or name in args.only
    }
    progress = Progress(partial(print, flush=True))
    for name, params in candidates.items():
        result, pipelines[name] = evaluate(
            name, params, reviews, args.folds, eval_slice, progress
        )
        print(
            f"{name:<45} {result.accuracy_mean:.4f} ± {result.accuracy_std:.4f}  "
            f"{result.artifact_mb:5.1f} MB  behaviour "
            + " ".join(f"{result.behaviour[n]:.0%}" for n in HEADLINE),
            flush=True,
        )
        results.append(result)
    sample = list(reviews["text"].iloc[:3000])
    predicts = {name: scorer(pipeline) for name, pipeline in pipelines.items()}
    batch1 = time_alternately(predicts, sample, 1)
    batch128 = time_alternately(predicts, sample, 128)
    for result in results:
        result.per_s_batch1 = batch1[result.name]
        result.per_s_batch128 = batch128[result.name]
        print(
            f"{result.name:<45} b1 {result.per_s_batch1:>8,.0f}/s  "
            f"b128 {result.per_s_batch128:>9,.0f}/s",
            flush=True,
        )
    time_stages(results, pipelines, sample)
    return write_reports(results, args.folds, args.prefix)


def time_stages(
    results: list[Result], pipelines: dict[str, Any], sample: list[str]
) -> None:
    """Per-stage times of the chosen, the most accurate and today's default."""
    from bench.stages import format_stages, stage_times

    chosen, best = pick(results), most_accurate(results)
    for result in results:
        if result not in (chosen, best) and "[accurate:" not in result.name:
            continue
        for batch in (1, 128):
            stages = stage_times(pipelines[result.name], sample, batch)
            result.stages[str(batch)] = stages
            print(format_stages(result.name, batch, stages), flush=True)


def write_reports(results: list[Result], folds: int, prefix: str = "selection") -> int:
    """Pick by the rule; write <prefix>.json, <prefix>.md and <prefix>.png."""
    chosen = pick(results)
    print("\n".join(paired_table(results)))
    print(f"chosen: {chosen.name}")
    report = {
        "folds": folds,
        "chosen": chosen.name,
        "results": [asdict(r) for r in results],
    }
    (RESULTS_DIR / f"{prefix}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS_DIR / f"{prefix}.md").write_text(markdown(results, chosen, folds))
    plot(results, chosen, RESULTS_DIR / f"{prefix}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

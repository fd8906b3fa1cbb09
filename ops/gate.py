"""The promotion gate: is a candidate model at least as good as production?

Measures both models side by side, in one run, and decides with :func:`decide`:

- **contract**: the candidate's artifact and metadata check out, with the same
  labels as production;
- **evaluation slice**: accuracy on reviews no model of this project trains on
  (``sentiment.training.data.split_eval_slice``), compared with an exact one-sided
  McNemar test on the same examples rather than two raw accuracies;
- **must not flip**: clear reviews the candidate must all get right;
- **cross-validation**: the candidate's CV mean is not below production's
  mean minus its fold spread, and, when both were cross-validated on the same
  folds (same data, seed and fold count), a one-sided paired t-test over those
  folds does not find it worse: better behaviour cannot buy a loss of accuracy;
- **speed**: in-process reviews/s, both models timed alternately so this
  machine's noise hits both; the candidate may be at most 20% slower;
- **infrastructure**: the candidate loads in a real ``bentoml serve`` and
  answers canned requests on ``/classify``, ``/explain`` and ``/model-info``;
- **agreement** (report only): when a prediction log with texts is given, how
  often the candidate agrees with production on logged traffic.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.telemetry.prediction_log import is_shadow, read_records
from sentiment.training.behaviour import HEADLINE, headline_cases

MAX_SLOWDOWN = 0.8  # candidate reviews/s at least this share of production's
MCNEMAR_ALPHA = 0.05  # refuse when the candidate is worse at this significance
SPEED_BATCH = 128
SPEED_ROUNDS = 7
MUST_NOT_FLIP = [
    ("a wonderful, moving film with superb performances", "positive"),
    ("one of the best films of the year, funny and touching", "positive"),
    ("a delightful, beautifully acted story", "positive"),
    ("brilliant, smart and thoroughly entertaining", "positive"),
    ("a masterpiece: gripping from start to finish", "positive"),
    ("a dull, lifeless and boring mess", "negative"),
    ("the worst movie i have seen, tedious and stupid", "negative"),
    ("an awful, incoherent waste of time", "negative"),
    ("painfully boring, with a lazy script and wooden acting", "negative"),
    ("a tedious, unfunny disaster", "negative"),
]


@dataclass(frozen=True)
class ModelFacts:
    """What the gate measured of one model."""

    tag: str
    labels: list[str]
    eval_accuracy: float
    cv_mean: float | None
    cv_std: float | None
    reviews_per_s: float
    eval_share: float | None
    must_not_flip_wrong: list[str] = field(default_factory=list)
    behaviour: dict[str, float] = field(default_factory=dict)
    cv_folds: list[float] = field(default_factory=list)  # accuracy of each fold
    cv_split: str = ""  # data sha256, seed and fold count: equal means same folds
    imported: str = ""  # an imported model: what it was evaluated on
    sentiment: bool = True  # its labels are the sentiment pair (must not flip applies)


@dataclass(frozen=True)
class Check:
    """One rule of the gate and how the candidate fared."""

    name: str
    passed: bool
    production: str
    candidate: str
    rule: str


@dataclass(frozen=True)
class Paired:
    """The same evaluation examples, scored by both models."""

    n: int
    production_only_right: int  # McNemar's b
    candidate_only_right: int  # McNemar's c

    @property
    def p_worse(self) -> float:
        """One-sided exact McNemar p-value that the candidate is worse."""
        return mcnemar_p_worse(self.production_only_right, self.candidate_only_right)


def mcnemar_p_worse(b: int, c: int) -> float:
    """P(b or more of b + c discordant pairs favour production | no difference).

    The exact (binomial) McNemar test, one-sided: small when production is right
    on many more of the examples the two models disagree on.
    """
    n = b + c
    if n == 0:
        return 1.0
    return float(sum(math.comb(n, k) for k in range(b, n + 1)) / 2**n)


def decide(
    production: ModelFacts | None,
    candidate: ModelFacts,
    paired: Paired | None,
    infra_problem: str | None,
    new_labels: bool = False,
) -> list[Check]:
    """Every check of the gate that applies; the candidate passes only if all pass.

    Accuracy (McNemar), speed and the infrastructure apply to any model; the
    must-not-flip reviews and the behaviour suite to the sentiment pair;
    cross-validation to models ``train.py`` trained. ``new_labels``: the
    candidate may change the labels (``--new-labels``), then nothing is paired.
    """
    checks = [
        Check(
            "infrastructure",
            infra_problem is None,
            "-",
            infra_problem or "serves /classify, /explain, /model-info",
            "loads in bentoml serve, answers canned requests",
        )
    ]
    if candidate.sentiment:
        wrong = candidate.must_not_flip_wrong
        checks.append(
            Check(
                "must not flip",
                not wrong,
                "-",
                f"{len(MUST_NOT_FLIP) - len(wrong)}/{len(MUST_NOT_FLIP)} right"
                + (f" (wrong: {wrong[0]!r})" if wrong else ""),
                "every clear review right",
            )
        )
    checks.append(slice_check(production, candidate))
    if production is None:
        return checks
    same = candidate.labels == production.labels
    checks.append(
        Check(
            "labels",
            same or new_labels,
            str(production.labels),
            str(candidate.labels),
            "the same labels" if same else "new labels only with --new-labels",
        )
    )
    if paired is not None and same:
        checks.append(
            Check(
                "accuracy (McNemar)",
                paired.p_worse >= MCNEMAR_ALPHA,
                f"{production.eval_accuracy:.4f}",
                f"{candidate.eval_accuracy:.4f} "
                f"(b={paired.production_only_right}, "
                f"c={paired.candidate_only_right}, p={paired.p_worse:.3g})",
                f"not worse at p < {MCNEMAR_ALPHA} on {paired.n} unseen reviews",
            )
        )
    if not candidate.imported:
        checks.append(cv_check(production, candidate))
    if production.behaviour and candidate.behaviour:
        checks.append(behaviour_check(production, candidate))
    ratio = candidate.reviews_per_s / production.reviews_per_s
    checks.append(
        Check(
            "speed",
            ratio >= MAX_SLOWDOWN,
            f"{production.reviews_per_s:,.0f}/s",
            f"{candidate.reviews_per_s:,.0f}/s ({ratio:.2f}x)",
            f">= {MAX_SLOWDOWN:.1f}x production, batch {SPEED_BATCH}, alternating",
        )
    )
    return checks


def slice_check(production: ModelFacts | None, candidate: ModelFacts) -> Check:
    """A trained model never saw the slice; an import says what it was measured on."""
    if candidate.imported:
        return Check(
            "evaluation slice",
            True,
            "-" if production is None else share_text(production.eval_share),
            f"imported: {candidate.imported}",
            "trained without the slice (an import's training data is its own)",
        )
    return Check(
        "evaluation slice",
        candidate.eval_share is not None,
        "-" if production is None else share_text(production.eval_share),
        share_text(candidate.eval_share),
        "trained without the evaluation slice",
    )


def behaviour_drops(
    production: dict[str, float], candidate: dict[str, float], cases: dict[str, int]
) -> list[str]:
    """Headline capabilities whose pass rate fell by more than two standard errors.

    The standard error is that of the difference of two pass rates over the
    suite's ``cases`` of the capability, at production's rate: with 300 cases and
    a 70% rate a drop of 7.5 points is noise, at 97% over 1,800 cases 1.1 points.
    """
    dropped = []
    for name in HEADLINE:
        before, after = production[name], candidate[name]
        noise = 2 * math.sqrt(2 * max(before * (1 - before), 1e-4) / cases[name])
        if after < before - noise:
            dropped.append(name)
    return dropped


def behaviour_check(production: ModelFacts, candidate: ModelFacts) -> Check:
    """No headline pass rate of the behaviour suite lower beyond noise."""
    dropped = behaviour_drops(
        production.behaviour, candidate.behaviour, headline_cases()
    )

    def rates(facts: ModelFacts) -> str:
        return " ".join(f"{facts.behaviour[name]:.0%}" for name in HEADLINE)

    return Check(
        "behaviour",
        not dropped,
        rates(production),
        rates(candidate) + (f" (lower: {', '.join(dropped)})" if dropped else ""),
        "no headline pass rate lower by over 2 standard errors",
    )


def share_text(share: float | None) -> str:
    """How a model's evaluation slice reads in the table."""
    return "none (trained before the slice)" if share is None else f"{share:.0%} held"


def paired_t_p_worse(candidate: Sequence[float], best: Sequence[float]) -> float:
    """One-sided paired t-test p-value that ``candidate`` is worse, fold by fold."""
    from scipy.stats import ttest_rel

    differences = np.asarray(candidate) - np.asarray(best)
    if len(differences) < 2 or not differences.any():
        return 1.0
    if np.ptp(differences) == 0:  # every fold moved alike: no spread to test
        return 0.0 if differences[0] < 0 else 1.0
    return float(ttest_rel(candidate, best, alternative="less").pvalue)


def same_folds(production: ModelFacts, candidate: ModelFacts) -> bool:
    """Whether both models' fold accuracies come from the same folds."""
    return bool(
        production.cv_split
        and production.cv_split == candidate.cv_split
        and len(production.cv_folds) == len(candidate.cv_folds) >= 2
    )


def cv_check(production: ModelFacts, candidate: ModelFacts) -> Check:
    """Candidate CV mean >= production's mean minus its fold std, not worse paired.

    The paired test runs when both models were cross-validated on the same folds;
    models trained before fold accuracies were kept get the mean rule alone.
    """
    if candidate.cv_mean is None:
        return Check("cross-validation", False, "-", "none", "train with --cv")
    if production.cv_mean is None:
        floor, prod_text = 0.0, "none"
    else:
        floor = production.cv_mean - (production.cv_std or 0.0)
        prod_text = f"{production.cv_mean:.4f} ± {production.cv_std or 0:.4f}"
    passed = candidate.cv_mean >= floor
    cand_text = f"{candidate.cv_mean:.4f} ± {candidate.cv_std or 0:.4f}"
    rule = "mean >= production mean - std"
    if same_folds(production, candidate):
        p_worse = paired_t_p_worse(candidate.cv_folds, production.cv_folds)
        passed = passed and p_worse >= MCNEMAR_ALPHA
        cand_text += f" (paired t p={p_worse:.3g})"
        rule += f", not worse at p < {MCNEMAR_ALPHA} by a paired t-test on the folds"
    return Check("cross-validation", passed, prod_text, cand_text, rule)


def paired_outcome(
    truth: np.ndarray, production: np.ndarray, candidate: np.ndarray
) -> Paired:
    """McNemar's discordant counts of two models' labels on the same examples."""
    prod_right, cand_right = production == truth, candidate == truth
    return Paired(
        n=len(truth),
        production_only_right=int((prod_right & ~cand_right).sum()),
        candidate_only_right=int((cand_right & ~prod_right).sum()),
    )


def alternating_speed(
    scorers: Sequence[Callable[[list[str]], Any]],
    texts: list[str],
    rounds: int = SPEED_ROUNDS,
) -> list[float]:
    """Median reviews/s of each scorer, timed in turn round after round."""
    batch = (texts * (SPEED_BATCH // max(len(texts), 1) + 1))[:SPEED_BATCH]
    for score in scorers:
        score(batch)  # warm caches before timing
    timings: list[list[float]] = [[] for _ in scorers]
    for _ in range(rounds):
        for index, score in enumerate(scorers):
            calls, started = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - started) < 0.15:
                score(batch)
                calls += 1
            timings[index].append(calls * len(batch) / elapsed)
    return [statistics.median(t) for t in timings]


def must_not_flip_wrong(labels: Sequence[str]) -> list[str]:
    """The clear reviews a model labelled wrong (``labels`` in MUST_NOT_FLIP order)."""
    return [
        text
        for (text, expected), got in zip(MUST_NOT_FLIP, labels, strict=True)
        if got != expected
    ]


def agreement(
    texts: list[str], production: Sequence[str], candidate: Sequence[str], show: int = 5
) -> dict[str, Any]:
    """How often two models agree on logged texts, with some that disagree."""
    differ = [
        {"text": text, "production": p, "candidate": c}
        for text, p, c in zip(texts, production, candidate, strict=True)
        if p != c
    ]
    share = 1 - len(differ) / len(texts) if texts else None
    return {"n": len(texts), "agreement": share, "disagreeing": differ[:show]}


def report_sha256(report: dict[str, Any]) -> str:
    """The sha256 of a report's canonical JSON: what the audit log records."""
    canonical = json.dumps(report, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def format_table(checks: list[Check]) -> str:
    """The side-by-side table the gate prints."""
    rows = [("check", "production", "candidate", "rule", "")]
    rows += [
        (c.name, c.production, c.candidate, c.rule, "pass" if c.passed else "FAIL")
        for c in checks
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def as_report(
    production: ModelFacts | None,
    candidate: ModelFacts,
    checks: list[Check],
    traffic: dict[str, Any] | None,
) -> dict[str, Any]:
    """Everything the gate saw and decided, as JSON."""
    return {
        "production": asdict(production) if production else None,
        "candidate": asdict(candidate),
        "checks": [asdict(check) for check in checks],
        "traffic_agreement": traffic,
        "passed": all(check.passed for check in checks),
    }


def read_logged_texts(paths: list[Path]) -> list[str]:
    """The served reviews of prediction logs written with ``SENTIMENT_LOG_TEXT=1``."""
    return [
        record["text"]
        for record in read_records(paths)
        if isinstance(record.get("text"), str) and not is_shadow(record)
    ]

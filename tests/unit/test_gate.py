"""Unit tests for the promotion gate's rules, with made-up measurements."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from ops import gate

PRODUCTION = gate.ModelFacts(
    tag="s:prod",
    labels=["negative", "positive"],
    eval_accuracy=0.78,
    cv_mean=0.79,
    cv_std=0.004,
    reviews_per_s=12_000,
    eval_share=0.15,
    behaviour={
        "plain": 0.95,
        "negated_positive": 0.96,
        "negated_negative": 0.70,
        "contrast": 0.85,
        "invariance": 0.97,
    },
)


def candidate(**changes: object) -> gate.ModelFacts:
    return dataclasses.replace(PRODUCTION, tag="s:cand", **changes)  # type: ignore[arg-type]


def failed(checks: list[gate.Check]) -> list[str]:
    return [check.name for check in checks if not check.passed]


EVEN = gate.Paired(n=1000, production_only_right=40, candidate_only_right=42)


def test_an_equal_candidate_passes_every_check() -> None:
    checks = gate.decide(PRODUCTION, candidate(), EVEN, None)
    assert failed(checks) == []
    assert {c.name for c in checks} >= {
        "infrastructure",
        "must not flip",
        "accuracy (McNemar)",
        "cross-validation",
        "speed",
        "labels",
        "behaviour",
    }


def test_a_better_candidate_passes() -> None:
    better = gate.Paired(n=1000, production_only_right=20, candidate_only_right=60)
    checks = gate.decide(
        PRODUCTION, candidate(eval_accuracy=0.82, cv_mean=0.81), better, None
    )
    assert failed(checks) == []


def test_a_worse_candidate_is_refused_by_the_paired_test() -> None:
    worse = gate.Paired(n=1000, production_only_right=70, candidate_only_right=35)
    checks = gate.decide(PRODUCTION, candidate(eval_accuracy=0.745), worse, None)
    assert failed(checks) == ["accuracy (McNemar)"]


def test_better_behaviour_cannot_promote_a_candidate_the_paired_test_finds_worse() -> (
    None
):
    worse = gate.Paired(n=1660, production_only_right=70, candidate_only_right=45)
    behaves = dict.fromkeys(PRODUCTION.behaviour, 0.99)
    checks = gate.decide(
        PRODUCTION, candidate(eval_accuracy=0.765, behaviour=behaves), worse, None
    )
    assert failed(checks) == ["accuracy (McNemar)"]  # behaviour passed, still refused


def test_a_candidate_worse_beyond_the_fold_spread_is_refused() -> None:
    checks = gate.decide(PRODUCTION, candidate(cv_mean=0.77), EVEN, None)
    assert failed(checks) == ["cross-validation"]


@pytest.mark.parametrize(
    ("capability", "rate", "ok"),
    [
        ("negated_negative", 0.64, True),  # 6 points on 300 cases: noise
        ("negated_negative", 0.60, False),  # 10 points: a real drop
        ("invariance", 0.962, True),  # 0.8 of a point on 1,800 cases
        ("invariance", 0.95, False),  # 2 points on 1,800 cases
        ("contrast", 0.99, True),  # better is fine
    ],
)
def test_behaviour_pass_rates_may_not_drop_beyond_noise(
    capability: str, rate: float, ok: bool
) -> None:
    worse = {**PRODUCTION.behaviour, capability: rate}
    checks = gate.decide(PRODUCTION, candidate(behaviour=worse), EVEN, None)
    assert failed(checks) == ([] if ok else ["behaviour"])
    if not ok:
        row = next(c for c in checks if c.name == "behaviour")
        assert capability in row.candidate


def test_no_behaviour_check_without_rates_for_both() -> None:
    checks = gate.decide(PRODUCTION, candidate(behaviour={}), EVEN, None)
    assert "behaviour" not in {c.name for c in checks}


def test_within_the_fold_spread_is_not_worse() -> None:
    checks = gate.decide(PRODUCTION, candidate(cv_mean=0.787), EVEN, None)
    assert failed(checks) == []


@pytest.mark.parametrize(
    ("speed", "ok"), [(9_700, True), (9_500, False), (2_000, False)]
)
def test_a_slower_candidate_is_refused(speed: float, ok: bool) -> None:
    checks = gate.decide(PRODUCTION, candidate(reviews_per_s=speed), EVEN, None)
    assert failed(checks) == ([] if ok else ["speed"])


def test_other_failures_each_name_their_check() -> None:
    bad = candidate(
        labels=["neg", "pos"],
        eval_share=None,
        cv_mean=None,
        must_not_flip_wrong=["a wonderful, moving film with superb performances"],
    )
    checks = gate.decide(PRODUCTION, bad, EVEN, "server did not start: boom")
    assert failed(checks) == [
        "infrastructure",
        "must not flip",
        "evaluation slice",
        "labels",
        "cross-validation",
    ]
    table = gate.format_table(checks)
    assert "server did not start: boom" in table and table.count("FAIL") == 5


def test_the_first_promotion_checks_the_candidate_alone() -> None:
    checks = gate.decide(None, candidate(), None, None)
    assert failed(checks) == []
    assert [c.name for c in checks] == [
        "infrastructure",
        "must not flip",
        "evaluation slice",
    ]


def test_mcnemar_exact_values() -> None:
    assert gate.mcnemar_p_worse(0, 0) == 1.0
    assert gate.mcnemar_p_worse(10, 0) == pytest.approx(1 / 1024)
    assert gate.mcnemar_p_worse(0, 10) == 1.0
    assert gate.mcnemar_p_worse(5, 5) == pytest.approx(0.623, abs=1e-3)


def test_paired_outcome_counts_discordant_pairs() -> None:
    truth = np.array(["p", "p", "n", "n", "p"])
    paired = gate.paired_outcome(
        truth, np.array(["p", "n", "n", "p", "p"]), np.array(["p", "p", "p", "n", "n"])
    )
    assert (paired.production_only_right, paired.candidate_only_right) == (2, 2)


def test_alternating_speed_ranks_the_slower_scorer() -> None:
    def quick(batch: list[str]) -> None:
        time.sleep(0.001)

    def slow(batch: list[str]) -> None:
        time.sleep(0.004)

    fast_rate, slow_rate = gate.alternating_speed([quick, slow], ["a", "b"], rounds=3)
    assert slow_rate / fast_rate < 0.6


def test_must_not_flip_names_the_reviews_got_wrong() -> None:
    right = [label for _, label in gate.MUST_NOT_FLIP]
    assert gate.must_not_flip_wrong(right) == []
    flipped = ["negative" if label == "positive" else "positive" for label in right]
    assert len(gate.must_not_flip_wrong(flipped)) == len(gate.MUST_NOT_FLIP)


def test_agreement_on_logged_traffic() -> None:
    result = gate.agreement(["a", "b", "c", "d"], list("ppnn"), list("ppnp"))
    assert result["n"] == 4 and result["agreement"] == 0.75
    assert result["disagreeing"] == [{"text": "d", "production": "n", "candidate": "p"}]


def test_report_hash_is_canonical() -> None:
    assert gate.report_sha256({"a": 1, "b": [2]}) == gate.report_sha256(
        {"b": [2], "a": 1}
    )
    assert gate.report_sha256({"a": 1}) != gate.report_sha256({"a": 2})


FOLDS = [0.792, 0.795, 0.790, 0.797, 0.794]  # production's folds, mean 0.7936
SPLIT = "sha:0.15:42:5"
BETTER_BEHAVED = {
    "plain": 0.99,
    "negated_positive": 0.99,
    "negated_negative": 0.90,
    "contrast": 0.95,
    "invariance": 0.99,
}


def paired_facts(folds: list[float], split: str = SPLIT) -> gate.ModelFacts:
    return candidate(
        cv_mean=float(np.mean(folds)),
        cv_folds=folds,
        cv_split=split,
        behaviour=BETTER_BEHAVED,
    )


# Production cross-validated on the same folds as the candidates below.
PAIRED_PRODUCTION = dataclasses.replace(
    PRODUCTION,
    cv_mean=float(np.mean(FOLDS)),
    cv_std=0.0025,
    cv_folds=FOLDS,
    cv_split=SPLIT,
)


def test_better_behaviour_cannot_buy_a_paired_loss_of_accuracy() -> None:
    # 0.2 points lower on every fold: inside production's fold std, but the same
    # folds see it every time.
    worse = paired_facts([a - 0.002 + 0.0002 * i for i, a in enumerate(FOLDS)])
    checks = gate.decide(PAIRED_PRODUCTION, worse, EVEN, None)
    assert failed(checks) == ["cross-validation"]
    row = next(c for c in checks if c.name == "cross-validation")
    assert "paired t p=" in row.candidate and "paired t-test" in row.rule


def test_an_even_candidate_passes_the_paired_test() -> None:
    production = dataclasses.replace(
        PRODUCTION, cv_mean=float(np.mean(FOLDS)), cv_folds=FOLDS, cv_split=SPLIT
    )
    even = paired_facts(
        [a + d for a, d in zip(FOLDS, [0.002, -0.001, 0.001, -0.002, 0.0], strict=True)]
    )
    assert failed(gate.decide(production, even, EVEN, None)) == []


def test_folds_of_other_data_are_not_paired() -> None:
    other = paired_facts([a - 0.002 for a in FOLDS], split="other:0.15:42:5")
    checks = gate.decide(PAIRED_PRODUCTION, other, EVEN, None)
    assert failed(checks) == []  # the mean rule alone: within the fold std
    row = next(c for c in checks if c.name == "cross-validation")
    assert "paired" not in row.candidate


@pytest.mark.parametrize(
    ("candidate_folds", "production_folds", "expected"),
    [
        ([0.8, 0.8], [0.8, 0.8], 1.0),
        ([0.79, 0.79], [0.8, 0.8], 0.0),
        ([0.81, 0.81], [0.8, 0.8], 1.0),
        ([0.8], [0.9], 1.0),
    ],
)
def test_paired_t_edge_cases(
    candidate_folds: list[float], production_folds: list[float], expected: float
) -> None:
    assert gate.paired_t_p_worse(candidate_folds, production_folds) == expected


def test_the_split_names_data_slice_seed_and_folds() -> None:
    from types import SimpleNamespace

    from ops.promote import cv_split

    data = SimpleNamespace(sha256="abc", eval_share=0.15)
    cv = SimpleNamespace(seed=42, folds=5, fold_accuracies=[0.8] * 5)
    assert cv_split(SimpleNamespace(data=data, cv=cv)) == "abc:0.15:42:5"
    old = SimpleNamespace(seed=None, folds=5, fold_accuracies=[])  # before the folds
    assert cv_split(SimpleNamespace(data=data, cv=old)) == ""
    assert cv_split(SimpleNamespace(data=data, cv=None)) == ""


def test_an_imported_candidate_is_gated_without_cross_validation() -> None:
    """Imports have no CV; accuracy, speed and the behaviour suite still apply."""
    imported = candidate(cv_mean=None, eval_share=None, imported="all of my.csv")
    checks = gate.decide(PRODUCTION, imported, EVEN, None)
    assert failed(checks) == []
    names = {c.name for c in checks}
    assert "cross-validation" not in names
    assert {"accuracy (McNemar)", "speed", "behaviour", "must not flip"} <= names


def test_other_labels_need_new_labels_and_skip_the_sentiment_checks() -> None:
    three = candidate(
        labels=["neg", "neutral", "pos"], behaviour={}, sentiment=False,
        imported="all of three.csv", cv_mean=None,
    )  # fmt: skip
    assert failed(gate.decide(PRODUCTION, three, EVEN, None)) == ["labels"]
    checks = gate.decide(PRODUCTION, three, EVEN, None, new_labels=True)
    assert failed(checks) == []
    names = {c.name for c in checks}
    assert not names & {"must not flip", "behaviour", "accuracy (McNemar)"}
    assert {"speed", "infrastructure", "labels"} <= names

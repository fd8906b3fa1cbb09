"""sentiment.training.behaviour: the suite itself, with stand-in models."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.training.behaviour import (
    HEADLINE,
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    Capability,
    Case,
    build_suite,
    headline_score,
    pass_rates,
    report,
    run_capability,
    run_suite,
)


def constant(value: float):
    return lambda texts: np.full(len(texts), value)


def word_counter(texts: list[str]) -> np.ndarray:
    """A bag-of-words model: positive words minus negative words, no negation."""
    scores = []
    for text in texts:
        words = text.lower().replace(".", " ").replace(",", " ").split()
        score = sum(w in POSITIVE_WORDS for w in words) - sum(
            w in NEGATIVE_WORDS for w in words
        )
        scores.append(1 / (1 + np.exp(-score)))
    return np.array(scores)


@pytest.fixture(scope="module")
def suite() -> list[Capability]:
    return build_suite()


def test_the_suite_is_the_same_every_time(suite: list[Capability]) -> None:
    again = build_suite()
    assert [c.cases for c in again] == [c.cases for c in suite]


def test_every_capability_has_a_few_hundred_cases_of_its_kind(
    suite: list[Capability],
) -> None:
    names = {c.name for c in suite}
    assert {"plain", "negated_positive", "negated_negative", "contrast"} <= names
    for capability in suite:
        assert 100 <= len(capability.cases) <= 300, capability.name
        assert len(set(capability.cases)) == len(capability.cases)
        for case in capability.cases:
            if capability.kind == "mft":
                assert case.expected in {"positive", "negative"}
            else:
                assert case.perturbed and case.perturbed != case.text


def test_labels_follow_the_capability(suite: list[Capability]) -> None:
    by_name = {c.name: c for c in suite}
    assert {c.expected for c in by_name["negated_positive"].cases} == {"negative"}
    assert {c.expected for c in by_name["negated_negative"].cases} == {"positive"}
    for case in by_name["negated_negative"].cases:
        assert "at all" in case.text
    for case in by_name["contrast"].cases:
        assert any(w in case.text for w in (" but ", "hough "))


def test_a_bag_of_words_passes_plain_and_fails_negation(
    suite: list[Capability],
) -> None:
    rates = pass_rates(run_suite(word_counter, suite))
    assert rates["plain"] == 1.0
    assert rates["negated_positive"] == 0.0
    assert rates["negated_negative"] == 0.0
    assert rates["invariance_casing"] == 1.0


def test_a_constant_model_is_invariant_but_not_directional(
    suite: list[Capability],
) -> None:
    rates = pass_rates(run_suite(constant(0.9), suite))
    assert rates["invariance"] == 1.0
    assert rates["directional"] == 0.0
    assert rates["negated_negative"] == 1.0
    assert rates["negated_positive"] == 0.0
    assert 0.0 < headline_score(rates) < 1.0
    assert set(HEADLINE) <= set(rates)


def test_failures_name_the_case_and_the_score() -> None:
    capability = Capability(
        "toy", "inv", "toy", "toy", (Case("good", None, "good!"), Case("a", None, "b"))
    )
    flips = run_capability(
        capability, lambda t: np.array([0.9 if "!" in x else 0.1 for x in t])
    )
    assert (flips.passed, flips.total) == (1, 2)
    assert flips.failures == [
        {"text": "good", "perturbed": "good!", "p_positive": 0.1,
         "p_positive_perturbed": 0.9}
    ]  # fmt: skip
    assert "perturbed': 'good!'" in report([flips])

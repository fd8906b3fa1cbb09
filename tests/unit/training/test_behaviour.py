"""sentiment.training.behaviour: the suite run on stand-in models."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.training.behaviour import (
    HEADLINE,
    headline_score,
    pass_rates,
    report,
    run_capability,
    run_suite,
)
from sentiment.training.behaviour_cases import Capability, Case, build_suite
from sentiment.training.behaviour_words import NEGATIVE_WORDS, POSITIVE_WORDS


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

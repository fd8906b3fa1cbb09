"""Unit tests for sentiment.augment: counterfactual snippets."""

from __future__ import annotations

import pytest

from sentiment.augment import counterfactuals, negated, unnegated


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The plot is thin.", "The plot is not thin."),
        ("A film that was worth the wait", "A film that was not worth the wait"),
        ("The plot is thin, and the cast is weak.", None),  # two copulas
        ("The plot is not thin.", None),  # already negated
        ("The plot is thin, but fun.", None),  # a second clause
        ("A thin plot.", None),  # no copula
    ],
)
def test_negated_inserts_not_after_the_only_copula(
    text: str, expected: str | None
) -> None:
    assert negated(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The plot is not thin.", "The plot is thin."),
        ("The plot wasn't thin.", "The plot was thin."),
        ("The plot is not thin and never fun.", None),  # two negations
    ],
)
def test_unnegated_removes_the_only_negation(text: str, expected: str | None) -> None:
    assert unnegated(text) == expected


def test_counterfactuals_flip_labels_and_skip_unclear_snippets() -> None:
    texts = ["The plot is thin.", "Great fun!", "It isn't funny."]
    labels = ["negative", "positive", "negative"]
    assert counterfactuals(texts, labels) == (
        ["The plot is not thin.", "It is funny."],
        ["positive", "positive"],
    )

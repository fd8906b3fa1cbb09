"""Unit tests for sentiment.training.augment: counterfactual snippets."""

from __future__ import annotations

import pytest

from sentiment.training.augment import (
    counterfactuals,
    negated,
    polarity_swaps,
    unnegated,
)


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


LEXICON = {"gorgeous": 3.0, "moving": 2.0, "dull": -2.0, "awful": -3.1, "ok": 0.9}


def test_polarity_swaps_turn_every_polar_word_and_flip_the_label() -> None:
    texts, labels = polarity_swaps(
        ["A gorgeous and moving film"], ["positive"], LEXICON
    )
    assert labels == ["negative"]
    words = texts[0].lower().split()
    assert words[0] == "a" and words[2] == "and" and words[-1] == "film"
    assert {words[1], words[3]} <= {"dull", "awful"}


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("A gorgeous film", "negative"),  # the polar word disagrees with the label
        ("A gorgeous film, but dull", "positive"),  # two clauses
        ("Not a gorgeous film", "negative"),  # negated
        ("An ok film", "positive"),  # no clearly polar word (|valence| < 1.5)
        ("gorgeous " * 41, "positive"),  # too long
    ],
)
def test_polarity_swaps_skip_snippets_where_the_swap_is_unclear(
    text: str, label: str
) -> None:
    assert polarity_swaps([text], [label], LEXICON) == ([], [])


def test_polarity_swaps_are_the_same_every_run() -> None:
    texts = ["An awful sequel", "A dull and awful plot", "The moving score"]
    labels = ["negative", "negative", "positive"]
    first = polarity_swaps(texts, labels, LEXICON)
    assert first == polarity_swaps(texts, labels, LEXICON)
    assert first[1] == ["positive", "positive", "negative"]

"""sentiment.model.reviews: each rule is named by the text that breaks it."""

from __future__ import annotations

import pytest

from sentiment.model.reviews import review_problem


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("ab", "review_too_short"),
        ("42", "review_is_number"),
        ("bad\x07film", "review_has_control_character"),
        ("x" * 5001, "review_too_long"),
        ("a fine film", None),
    ],
)
def test_review_problem_names_the_rule(text: str, rule: str | None) -> None:
    problem = review_problem(text)
    assert (problem[0] if problem else None) == rule

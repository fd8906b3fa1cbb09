"""sentiment.model.reviews: each rule is named by the text that breaks it."""

from __future__ import annotations

import pytest

from sentiment.model.reviews import review_problem, stripped_if_valid


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


# Characters that sit on the rules' edges: digits (also non-ASCII ones), signs,
# whitespace that strips, allowed and forbidden control characters, unprintables.
EDGE_CHARS = "ab 9+-\t\n\r\x07\x1f\x7f\u0663\u00a0\u200b\u2028é"


def test_the_batch_check_agrees_with_the_rule_per_text() -> None:
    import random

    rng = random.Random(30)
    for _ in range(3000):
        texts = [
            "".join(rng.choices(EDGE_CHARS, k=rng.randint(0, 8)))
            for _ in range(rng.randint(1, 4))
        ]
        valid = all(review_problem(text) is None for text in texts)
        expected = [text.strip() for text in texts] if valid else None
        assert stripped_if_valid(texts) == expected, texts


@pytest.mark.parametrize(
    "texts",
    [
        ["a fine film", "x" * 5001],
        ["a fine film", "  +12  "],
        ["a fine film", "\u0663\u0663\u0663\u0663"],
        ["line one\nline two", "bad\x07film"],
        ["ok film", "ab"],
    ],
)
def test_one_broken_text_fails_the_batch(texts: list[str]) -> None:
    assert stripped_if_valid(texts) is None


def test_the_batch_check_strips_and_allows_tabs_and_newlines() -> None:
    texts = ["  a fine film\n", "good\tand\r\nmoving"]
    assert stripped_if_valid(texts) == ["a fine film", "good\tand\r\nmoving"]


def test_a_text_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        stripped_if_valid(["a fine film", 1234])  # type: ignore[list-item]

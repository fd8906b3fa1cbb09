"""Unit tests for sentiment.features.scopes: negation scopes and set-aside clauses."""

from __future__ import annotations

import pytest

from sentiment.features.scopes import segments


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        ("a great film", [("a great film", 1.0)]),
        (
            "the plot was not bad at all.",
            [("the plot was ", 1.0), ("not bad at all", -1.0), (".", 1.0)],
        ),
        (
            "it isn't good, the cast is",
            [("it ", 1.0), ("isn't good", -1.0), (", the cast is", 1.0)],
        ),
        (
            "the plot was dull, but the cast was great",
            [("the plot was dull, ", 0.5), ("but the cast was great", 1.0)],
        ),
        (
            "although the plot was awful, the acting was great",
            [
                ("although", 1.0),
                (" the plot was awful", 0.5),
                (", the acting was great", 1.0),
            ],
        ),
        (
            "great cast, though not funny. fine",
            [
                ("great cast, though", 1.0),
                (" ", 0.5),
                ("not funny", -0.5),
                (". fine", 1.0),
            ],
        ),
        (
            "i can't say it wasn't good",
            [("i ", 1.0), ("can't say it ", -1.0), ("wasn't good", 1.0)],
        ),
        ("not", [("not", -1.0)]),
        ("", [("", 1.0)]),
    ],
)
def test_segments_weigh_scopes_and_clauses(
    doc: str, expected: list[tuple[str, float]]
) -> None:
    found = list(segments(doc, 0.5))
    assert found == expected
    assert "".join(text for text, _ in found) == doc


def test_a_contrast_only_reaches_back_to_its_sentence() -> None:
    found = segments("awful. dull but fun", 0.0)
    assert found == (("awful.", 1.0), (" dull ", 0.0), ("but fun", 1.0))


def test_words_that_merely_end_in_nt_are_no_negation() -> None:
    assert segments("a want of moment", 0.5) == (("a want of moment", 1.0),)

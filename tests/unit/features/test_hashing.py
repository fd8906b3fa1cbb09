"""sentiment.features.hashing: the batch hashes equal the reference ones."""

from __future__ import annotations

import pytest

from sentiment.features.hashing import (
    BASE,
    BASE_INVERSE,
    MASK64,
    POWERS,
    char_ngram_hash,
    char_ngrams,
    word_ngram_hash,
    word_ngrams,
)


def test_the_base_has_an_inverse_modulo_2_64() -> None:
    assert (BASE * BASE_INVERSE) & MASK64 == 1


def test_power_tables_grow_and_stay_consistent() -> None:
    powers, inverses = POWERS.upto(10_000)
    assert len(powers) >= 10_000
    pairs = zip(powers[:50], inverses[:50], strict=True)
    assert all((int(p) * int(q)) & MASK64 == 1 for p, q in pairs)


@pytest.mark.parametrize("text", ["abcdef", "été naïf 🎬", "a  b"])
def test_char_ngram_hashes_match_the_reference(text: str) -> None:
    rows, hashes = char_ngrams([text], (2, 3))
    expected = [
        char_ngram_hash(text[i : i + n])
        for n in (2, 3)
        for i in range(len(text) - n + 1)
    ]
    assert sorted(map(int, hashes)) == sorted(expected)
    assert set(rows.tolist()) == {0}


def test_word_ngrams_stop_at_document_boundaries() -> None:
    rows, hashes = word_ngrams(["good film", "bad plot"], (1, 2))
    expected = {
        word_ngram_hash(g)
        for g in (
            ["good"],
            ["film"],
            ["good", "film"],
            ["bad"],
            ["plot"],
            ["bad", "plot"],
        )
    }
    assert set(map(int, hashes)) == expected
    assert word_ngram_hash(["film", "bad"]) not in set(map(int, hashes))
    assert rows.tolist().count(0) == 3 and rows.tolist().count(1) == 3

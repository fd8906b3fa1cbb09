"""sentiment.features.negation: the scope cues and training's looser pattern."""

from __future__ import annotations

import re

from sentiment.features.negation import NEGATED, NEGATION_CUES

CUES = re.compile(rf"\b(?:{NEGATION_CUES})\b")


def test_the_scope_cues_cover_spelled_and_unspelled_contractions() -> None:
    for word in ["not", "barely", "isn't", "doesn’t", "dont", "wont", "without"]:
        assert CUES.fullmatch(word), word
    assert not CUES.search("a notable film")


def test_training_counts_any_nt_ending_as_a_negation() -> None:
    assert NEGATED.search("it isnt good") and NEGATED.search("I can't")
    assert NEGATED.search("I want more"), "looser on purpose: see the module"
    assert not NEGATED.search("barely watchable"), "not a cue for training"

"""Counterfactual training snippets: negate a review's one verdict, flip its label.

Also swap its sentiment words for opposite ones (:func:`polarity_swaps`).

Kaushik et al. (2020) and the CheckList paper show that a model trained only on
natural reviews learns that the frame around a verdict ("the plot was") predicts
the label, and that "not" means negative. A snippet with one copula and no
negation yields a counterfactual: "the plot is thin" -> "the plot is not thin",
label flipped. The frame then appears with both labels, and only what the
negation changes can explain the label.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence

from sentiment.features.negation import NEGATED

COPULA = re.compile(r"\b(is|was|are|were|feels|seems|remains)\b", re.IGNORECASE)
CLAUSE_BREAK = re.compile(r"[,;:.!?]|\b(but|however|although|though)\b", re.IGNORECASE)
NEGATED_COPULA = re.compile(r"\b(is|was|are|were)(?: not|n['’]t)\b", re.IGNORECASE)
FLIPPED = {"positive": "negative", "negative": "positive"}


def one_clause(text: str) -> bool:
    """Whether ``text`` has no clause break before its final punctuation."""
    return not CLAUSE_BREAK.search(text.rstrip(".!? "))


def unnegated(text: str) -> str | None:
    """``text`` without the negation of its only negated copula, or None."""
    found = list(NEGATED_COPULA.finditer(text))
    if len(found) != 1 or len(NEGATED.findall(text)) != 1 or not one_clause(text):
        return None
    return f"{text[: found[0].start()]}{found[0].group(1)}{text[found[0].end() :]}"


def negated(text: str) -> str | None:
    """``text`` with "not" after its only copula, or None when that is unclear.

    Unclear: no copula or several, a negation already there, or more than one
    clause (the negation's scope would not reach the verdict).
    """
    copulas = list(COPULA.finditer(text))
    if len(copulas) != 1 or NEGATED.search(text) or not one_clause(text):
        return None
    end = copulas[0].end()
    return f"{text[:end]} not{text[end:]}"


def counterfactuals(
    texts: Sequence[str], labels: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The negated (or un-negated) copies of the snippets that have one, flipped."""
    new_texts, new_labels = [], []
    for text, label in zip(texts, labels, strict=True):
        copy = negated(text) or unnegated(text)
        if copy is not None:
            new_texts.append(copy)
            new_labels.append(FLIPPED[label])
    return new_texts, new_labels


WORD = re.compile(r"\w+")
SWAP_MIN_VALENCE = 1.5  # VADER's scale is -4..4; 1.5 and up: clearly polar words
SWAP_MAX_WORDS = 40


def polarity_swaps(
    texts: Sequence[str],
    labels: Sequence[str],
    lexicon: Mapping[str, float],
    min_valence: float = SWAP_MIN_VALENCE,
    max_words: int = SWAP_MAX_WORDS,
) -> tuple[list[str], list[str]]:
    """Copies whose every clearly polar word is swapped for an opposite one, flipped.

    A snippet qualifies when it is one clause without negation, has at most
    ``max_words`` words, and every lexicon word of ``|valence| >= min_valence``
    in it agrees with its label ("a *gorgeous*, *moving* film", positive). Each
    such word becomes a lexicon word of the opposite sign, chosen by a hash of the
    snippet and the word (the same copies every run), and the label flips. The
    frame around the words then appears with both labels, so the classifier learns
    it from the words that carry the verdict, as the negation counterfactuals do.
    """
    positive = sorted(w for w, v in lexicon.items() if v >= min_valence)
    negative = sorted(w for w, v in lexicon.items() if v <= -min_valence)
    new_texts, new_labels = [], []
    for text, label in zip(texts, labels, strict=True):
        words = WORD.findall(text.lower())
        polar = {w for w in words if abs(lexicon.get(w, 0.0)) >= min_valence}
        if (
            not polar
            or len(words) > max_words
            or NEGATED.search(text)
            or not one_clause(text)
            or any((lexicon[w] > 0) != (label == "positive") for w in polar)
        ):
            continue
        swapped = text
        for word in sorted(polar):
            pool = negative if lexicon[word] > 0 else positive
            choice = pool[zlib.crc32(f"{text}\0{word}".encode()) % len(pool)]
            swapped = re.sub(rf"\b{re.escape(word)}\b", choice, swapped, flags=re.I)
        new_texts.append(swapped)
        new_labels.append(FLIPPED[label])
    return new_texts, new_labels

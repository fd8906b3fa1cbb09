"""Counterfactual training snippets: negate a review's one verdict, flip its label.

Kaushik et al. (2020) and the CheckList paper show that a model trained only on
natural reviews learns that the frame around a verdict ("the plot was") predicts
the label, and that "not" means negative. A snippet with one copula and no
negation yields a counterfactual: "the plot is thin" -> "the plot is not thin",
label flipped. The frame then appears with both labels, and only what the
negation changes can explain the label.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

COPULA = re.compile(r"\b(is|was|are|were|feels|seems|remains)\b", re.IGNORECASE)
NEGATION = re.compile(
    r"\b(not|no|never|nothing|none|nobody|neither|nor|without|cannot|hardly)\b|n['’]?t\b",
    re.IGNORECASE,
)
CLAUSE_BREAK = re.compile(r"[,;:.!?]|\b(but|however|although|though)\b", re.IGNORECASE)
NEGATED_COPULA = re.compile(r"\b(is|was|are|were)(?: not|n['’]t)\b", re.IGNORECASE)
FLIPPED = {"positive": "negative", "negative": "positive"}


def one_clause(text: str) -> bool:
    """Whether ``text`` has no clause break before its final punctuation."""
    return not CLAUSE_BREAK.search(text.rstrip(".!? "))


def unnegated(text: str) -> str | None:
    """``text`` without the negation of its only negated copula, or None."""
    found = list(NEGATED_COPULA.finditer(text))
    if len(found) != 1 or len(NEGATION.findall(text)) != 1 or not one_clause(text):
        return None
    return f"{text[: found[0].start()]}{found[0].group(1)}{text[found[0].end() :]}"


def negated(text: str) -> str | None:
    """``text`` with "not" after its only copula, or None when that is unclear.

    Unclear: no copula or several, a negation already there, or more than one
    clause (the negation's scope would not reach the verdict).
    """
    copulas = list(COPULA.finditer(text))
    if len(copulas) != 1 or NEGATION.search(text) or not one_clause(text):
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

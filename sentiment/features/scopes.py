"""Negation scope and contrast clauses: which parts of a review count, and which way.

A bag of n-grams reads "not bad at all" as "bad" plus noise, and "dull, but the
cast was great" as half dull. Following Pang, Lee and Vaithyanathan (2002), the
words after a negation cue, up to the next punctuation, are *in its scope*; here
their features count ``negated_weight`` times: the opposite sign (so "not bad"
pushes where "good" would, with the same learned weights), or nothing, leaving
the verdict to the lexicon feature, which flips them. Clauses a
contrast sets aside count for ``contrast_weight`` of a plain clause: everything
before "but"/"however" in the sentence, and the clause that "although"/"though"
opens.

:func:`segments` cuts a lower-cased text into consecutive spans with one weight
each (1 plain, -1 negated, ``contrast_weight`` set aside, its negative when
both); :class:`~sentiment.features.tfidf.HashingTfidf` counts each span's n-grams times
its weight. Linear in the features, so explanations still add up to the logit.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sentiment.features.negation import NEGATION_CUES

CONTRAST_BEFORE = frozenset({"but", "however"})  # sets aside what came before
CONTRAST_CLAUSE = frozenset({"although", "though", "whereas"})  # sets aside its clause
SENTENCE_END = frozenset(".!?;")
WORDS = rf"\b(?:but|however|although|though|whereas|{NEGATION_CUES})\b"
EVENTS = re.compile(rf"[.,:;!?]|{WORDS}")
# Punctuation alone opens no span: a text without these words is one plain span,
# found by one search in C instead of a Python step per comma and full stop.
ANY_WORD = re.compile(WORDS)


def intervals(doc: str, contrast_weight: float) -> list[tuple[int, int, float]]:
    """``(start, end, factor)`` of each negation scope (-1) and set-aside clause."""
    found: list[tuple[int, int, float]] = []
    sentence_start = 0
    negation_start: int | None = None
    aside_start: int | None = None

    def close(at: int) -> None:
        nonlocal negation_start, aside_start
        if negation_start is not None:
            found.append((negation_start, at, -1.0))
        if aside_start is not None:
            found.append((aside_start, at, contrast_weight))
        negation_start = aside_start = None

    for match in EVENTS.finditer(doc):
        event = match.group()
        if len(event) == 1 and not event.isalnum():
            close(match.start())
            if event in SENTENCE_END:
                sentence_start = match.end()
        elif event in CONTRAST_BEFORE:
            close(match.start())
            found.append((sentence_start, match.start(), contrast_weight))
        elif event in CONTRAST_CLAUSE:
            close(match.start())
            aside_start = match.end()
        elif negation_start is None:
            negation_start = match.start()
        else:
            found.append((negation_start, match.start(), -1.0))
            negation_start = None
    close(len(doc))
    return found


@lru_cache(maxsize=512)  # a batch's texts, reused by each feature block
def segments(doc: str, contrast_weight: float) -> tuple[tuple[str, float], ...]:
    """``doc`` cut into consecutive spans of one weight each (they join to ``doc``).

    A negation's scope runs from its cue to the next punctuation, contrast word or
    second cue (which ends it); "but"/"however" set aside the sentence before them;
    "although"/"though"/"whereas" set aside their clause, up to the next
    punctuation.
    """
    if not ANY_WORD.search(doc):
        return ((doc, 1.0),)
    found = intervals(doc, contrast_weight)
    if not found:
        return ((doc, 1.0),)
    cuts = sorted({0, len(doc)} | {i for start, end, _ in found for i in (start, end)})
    spans: list[tuple[str, float]] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        weight = 1.0
        for low, high, factor in found:
            if low <= start and end <= high:
                weight *= factor
        if spans and spans[-1][1] == weight:
            spans[-1] = (spans[-1][0] + doc[start:end], weight)
        else:
            spans.append((doc[start:end], weight))
    return tuple(spans)

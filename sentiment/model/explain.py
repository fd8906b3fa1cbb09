"""Explanations from the model itself: weight x feature value, per linear component.

For a logistic regression, a text's logit is ``intercept + sum(w_j * x_j)`` over
its features j; each term is that feature's contribution, in logit units
(positive pushes toward ``positive``). They add up exactly to the logit. A
feature here is a hash bucket; the explanation names the n-grams of *this* text
that fell into it (usually one; several are joined with `` | ``). The lexicon
feature is named by the lexicon words of the text. N-grams in a negation's scope
or a set-aside clause count less (or nothing, or negatively): their
contributions say so, and still add up.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import numpy as np

from sentiment.features.hashing import char_ngram_hash, word_ngram_hash
from sentiment.features.lexicon import LexiconScore
from sentiment.features.tfidf import HashingTfidf, WordCount
from sentiment.model.linear_explain import FeatureWeight, LinearExplainer, strongest
from sentiment.model.scorer import WORD_PATTERN, LinearScorer

COMPONENT_NAMES = {1: ["logreg"], 2: ["logreg", "naive_bayes"]}
GATED_NAMES = ["ngram_view", "behaviour_view"]


def text_ngrams(block: HashingTfidf, text: str) -> dict[int, set[str]]:
    """The n-grams of ``text`` that ``block`` counts, by the bucket they fall in."""
    bits = int(block.n_features).bit_length() - 1
    low, high = block.ngram_range
    (doc,) = block.prepare([text])
    found: dict[int, set[str]] = defaultdict(set)
    if isinstance(block, LexiconScore):
        tokens = re.findall(WORD_PATTERN, doc)
        hashes = np.array([word_ngram_hash([t]) for t in tokens], dtype=np.uint64)
        hit, _ = block.lookup(hashes)
        found[0].update(t for t, known in zip(tokens, hit, strict=True) if known)
        return found
    if block.analyzer == "char":
        for n in range(low, high + 1):
            for start in range(len(doc) - n + 1):
                gram = doc[start : start + n]
                found[char_ngram_hash(gram) >> (64 - bits)].add(gram)
        return found
    tokens = re.findall(WORD_PATTERN, doc)  # the tokens word_ngrams hashes
    for n in range(low, high + 1):
        for start in range(len(tokens) - n + 1):
            words = tokens[start : start + n]
            found[word_ngram_hash(words) >> (64 - bits)].add(" ".join(words))
    return found


def contributions(scorer: LinearScorer, text: str) -> list[list[FeatureWeight]]:
    """Every feature's contribution to each component's logit, for one text."""
    per_head: list[list[FeatureWeight]] = [[] for _ in scorer.heads]
    for block, offset in scorer.blocks:
        if isinstance(block, WordCount):  # read by the gate, weight 0 in every head
            continue
        entries = block.weighted_rows([text])
        names = text_ngrams(block, text)
        for column, value in zip(entries.columns, entries.values, strict=True):
            if value == 0:
                continue  # an n-gram the model never saw in training
            feature = " | ".join(sorted(names.get(int(column), {"?"})))
            for (weights, _), found in zip(scorer.heads, per_head, strict=True):
                found.append(
                    FeatureWeight(
                        feature, block.analyzer, float(value * weights[offset + column])
                    )
                )
    return per_head


def explain_or_refuse(
    scorer: LinearScorer | LinearExplainer | None,
    tag: str,
    classes: list[str],
    texts: list[str],
    top: int,
    max_chars: int | None = None,
    why_not: str = "",
    predict_proba: Callable[[list[str]], Any] | None = None,
) -> list[Any]:
    """:func:`explain`; 400 past ``max_chars`` in all, 409 for a model it cannot read.

    The budget exists because explaining hashes every character n-gram in
    Python: measured 6-12 us per character, so 32 reviews of 5,000 characters
    held a worker for 1.5 s.
    """
    total = sum(map(len, texts))
    if max_chars is not None and total > max_chars:
        from bentoml.exceptions import InvalidArgument

        raise InvalidArgument(
            f"explain_too_long: /explain takes at most {max_chars} characters in "
            f"all (SENTIMENT_EXPLAIN_MAX_CHARS), got {total}: send fewer or "
            "shorter reviews"
        )
    if scorer is None:
        from bentoml.exceptions import BentoMLException

        why = why_not or "it is not a linear model over named or hashed features"
        raise BentoMLException(
            f"model {tag} cannot be explained: {why}", error_code=HTTPStatus.CONFLICT
        )
    if isinstance(scorer, LinearExplainer):
        if predict_proba is None:
            raise TypeError("a LinearExplainer needs the served model's scores")
        return scorer.explain(texts, top, predict_proba)
    return explain(scorer, classes, texts, top)


def explain(
    scorer: LinearScorer, classes: list[str], texts: list[str], top: int
) -> list[dict[str, Any]]:
    """Label, score and the strongest contributions of each text.

    Returns:
        Per text: ``label``, ``score`` (as ``/classify``), ``contributions``
        (top features toward each label, summed over components), and
        ``components``: per linear component its ``share`` of the text (a soft
        vote's components share equally; a length gate's by the text's length),
        ``intercept``, ``logit`` and top contributions; a component's
        contributions over all features plus its intercept equal its logit.
    """
    logits, words = scorer.logits_and_words(texts)  # scored once, as /classify does
    probabilities = scorer.probabilities(logits, words)
    heads = len(scorer.heads)
    if scorer.gate is not None and words is not None:
        names = GATED_NAMES
        behaviour = scorer.gate.behaviour_share(words)
        shares = np.column_stack([1.0 - behaviour, behaviour])
    else:
        names = COMPONENT_NAMES.get(heads, [f"component{i}" for i in range(heads)])
        shares = np.full((len(texts), heads), 1.0 / heads)
    answers = []
    for index, text in enumerate(texts):
        per_head = contributions(scorer, text)
        best = int(np.argmax(probabilities[index]))
        summed: dict[tuple[str, str], float] = defaultdict(float)
        for share, found in zip(shares[index], per_head, strict=True):
            for c in found:
                summed[(c.feature, c.kind)] += c.weight * share
        answers.append(
            {
                "label": classes[best],
                "score": float(probabilities[index][best]),
                "contributions": strongest(
                    [FeatureWeight(f, k, w) for (f, k), w in summed.items()],
                    top,
                    (classes[1], classes[0]),
                ),
                "components": [
                    {
                        "name": name,
                        "share": round(float(shares[index][h]), 6),
                        "intercept": round(bias, 6),
                        "logit": round(float(logits[h][index]), 6),
                        **strongest(found, top, (classes[1], classes[0])),
                    }
                    for h, (name, (_, bias), found) in enumerate(
                        zip(names, scorer.heads, per_head, strict=True)
                    )
                ],
            }
        )
    return answers

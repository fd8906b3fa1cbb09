"""Unit tests for sentiment.model.explain: contributions that add up to the logit."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.features.tfidf import HashingTfidf
from sentiment.model.explain import contributions, explain, text_ngrams
from sentiment.model.scorer import LinearScorer
from sentiment.training.pipeline import ModelParams, build_pipeline, fit_pipeline

POSITIVE = ["a wonderful film", "great acting", "moving and funny", "superb cast"]
NEGATIVE = ["a boring mess", "dull and tedious", "not good at all", "lifeless plot"]
TEXTS = [f"{t} {i}" for i in range(4) for t in POSITIVE + NEGATIVE]
LABELS = (["positive"] * 4 + ["negative"] * 4) * 4


SCOPED = {"negated_weight": 0.0, "contrast_weight": 0.3, "lexicon": True}
FLIPPED = {"negated_weight": -1.0, "contrast_weight": 0.0, "lexicon": True}


@pytest.fixture(
    scope="module",
    params=[("logreg", {}), ("vote", {}), ("logreg", SCOPED), ("logreg", FLIPPED)],
    ids=["logreg", "vote", "scoped", "flipped"],
)
def scorer(request: pytest.FixtureRequest) -> LinearScorer:
    classifier, extra = request.param
    params = ModelParams(
        n_features=1 << 16, char_min_df=1, classifier=classifier, **extra
    )
    return LinearScorer(build_pipeline(params).fit(TEXTS, LABELS))


@pytest.mark.parametrize(
    "text",
    ["a wonderful film", "not good, dull", "zzz qqq", "dull, but not bad at all"],
)
def test_contributions_add_up_to_each_components_logit(
    scorer: LinearScorer, text: str
) -> None:
    logits = scorer.logits([text])[:, 0]
    for found, (_, bias), logit in zip(
        contributions(scorer, text), scorer.heads, logits, strict=True
    ):
        assert bias + sum(c.weight for c in found) == pytest.approx(logit, abs=1e-6)


def test_explanation_agrees_with_classify_and_ranks_features(
    scorer: LinearScorer,
) -> None:
    (answer,) = explain(scorer, ["negative", "positive"], ["a wonderful film"], top=3)
    proba = scorer.predict_proba(["a wonderful film"])[0]
    assert answer["label"] == "positive" and answer["score"] == pytest.approx(proba[1])
    pushes = answer["contributions"]["positive"]
    assert 0 < len(pushes) <= 3
    assert [p["weight"] for p in pushes] == sorted(
        (p["weight"] for p in pushes), reverse=True
    )
    assert all(p["weight"] > 0 for p in answer["contributions"]["negative"])
    assert any("wonderful" in p["feature"] for p in pushes)
    for component in answer["components"]:
        assert {"name", "intercept", "logit", "positive", "negative"} <= set(component)


def test_text_ngrams_name_the_buckets_of_this_text() -> None:
    words = HashingTfidf("word", (1, 2), 1 << 20)
    found = text_ngrams(words, "Not  GOOD at all")
    assert set().union(*found.values()) == {
        "not",
        "good",
        "at",
        "all",
        "not good",
        "good at",
        "at all",
    }
    chars = HashingTfidf("char", (3, 3), 1 << 20)
    grams = set().union(*text_ngrams(chars, "Abc  d").values())
    assert grams == {"abc", "bc ", "c d"}


def test_unknown_ngrams_contribute_nothing(scorer: LinearScorer) -> None:
    found = contributions(scorer, "qqqq zzzz xxxx")
    assert all(c.weight == 0 or "?" not in c.feature for head in found for c in head)
    assert np.isfinite(scorer.logits(["qqqq zzzz xxxx"])).all()


def test_the_lexicon_feature_is_named_by_the_texts_lexicon_words() -> None:
    params = ModelParams(n_features=1 << 16, char_min_df=1, **SCOPED)
    lean = LinearScorer(build_pipeline(params).fit(TEXTS, LABELS))
    (found,) = contributions(lean, "a wonderful but boring film")
    lexicon = [c for c in found if c.kind == "lexicon"]
    assert [c.feature for c in lexicon] == ["boring | wonderful"]


def test_a_gated_model_explains_each_view_with_its_share() -> None:
    params = ModelParams(
        n_features=1 << 16,
        char_min_df=1,
        negated_weight=0.0,
        lexicon=True,
        counterfactuals=True,
        behaviour_gate_words=3.0,
    )
    scorer = LinearScorer(fit_pipeline(params, TEXTS, LABELS))
    text = "not good at all, a dull mess"
    (answer,) = explain(scorer, ["negative", "positive"], [text], top=50)
    ngram, behaviour = answer["components"]
    assert (ngram["name"], behaviour["name"]) == ("ngram_view", "behaviour_view")
    assert ngram["share"] + behaviour["share"] == pytest.approx(1.0)
    assert behaviour["share"] < 0.1  # seven words, the hand-over is at three
    mixed = sum(c["share"] * c["logit"] for c in answer["components"])
    p_positive = scorer.predict_proba([text])[0, 1]
    assert 1 / (1 + np.exp(-mixed)) == pytest.approx(p_positive, abs=1e-5)
    assert answer["label"] == ("positive" if p_positive > 0.5 else "negative")

"""Unit tests for sentiment.training.stacking: two views blended into one model."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd

from sentiment.model.scorer import LinearScorer
from sentiment.training import stacking
from sentiment.training.pipeline import (
    BEHAVED,
    ModelParams,
    build_pipeline,
    fit_pipeline,
    vader_lexicon,
)

SMALL = replace(BEHAVED, char_min_df=1, n_features=1 << 12)


def view_margins(texts: list[str], labels: list[str]) -> np.ndarray:
    """Both views' margins on ``texts``, fitted on them (columns: n-gram, behaved)."""
    pipeline, ngram, behaved = stacking.fit_views(
        SMALL, texts, labels, build_pipeline, vader_lexicon
    )
    matrix = pipeline.named_steps["features"].transform(texts)
    return np.column_stack([v.decision_function(matrix) for v in (ngram, behaved)])


def test_the_blend_is_one_model_equal_to_the_weighted_margins(
    reviews: pd.DataFrame,
) -> None:
    texts, labels = list(reviews["text"]), list(reviews["label"])
    margins = view_margins(texts, labels)
    blended = fit_pipeline(replace(SMALL, behaviour_blend=0.3), texts, labels)
    decision = blended.decision_function(texts)
    assert np.allclose(decision, 0.7 * margins[:, 0] + 0.3 * margins[:, 1])
    # One logistic regression: the lean scorer serves it, at one model's cost.
    assert LinearScorer.supports(blended)
    lean = LinearScorer(blended).predict_proba(texts)[:, 1]
    assert np.allclose(lean, 1 / (1 + np.exp(-decision)), atol=1e-6)


def test_only_the_behaviour_view_sees_the_counterfactuals(
    reviews: pd.DataFrame,
) -> None:
    texts, labels = list(reviews["text"]), list(reviews["label"])
    extra, extra_labels, weights = stacking.augmentations(
        SMALL, texts, labels, vader_lexicon
    )
    assert extra and len(extra) == len(extra_labels) == len(weights)
    plain = replace(SMALL, counterfactuals=False, polarity_swaps=False)
    assert stacking.augmentations(plain, texts, labels, vader_lexicon) == ([], [], [])
    _, ngram, behaved = stacking.fit_views(
        SMALL, texts, labels, build_pipeline, vader_lexicon
    )
    alone = fit_pipeline(plain, texts, labels).named_steps["classifier"]
    assert np.allclose(ngram.coef_, alone.coef_)  # the n-gram view: real reviews only
    assert not np.allclose(behaved.coef_, ngram.coef_)


def test_no_blend_trains_one_model_on_everything() -> None:
    assert ModelParams().behaviour_blend == 0.0


def test_the_gate_gives_short_texts_to_the_behaviour_view(
    reviews: pd.DataFrame,
) -> None:
    texts, labels = list(reviews["text"]), list(reviews["label"])
    margins = view_margins(texts, labels)
    gated = fit_pipeline(
        replace(SMALL, behaviour_gate_words=5.0, behaviour_gate_width=1.0),
        texts,
        labels,
    )
    gate = gated.named_steps["classifier"]
    words = np.array([len(re.findall(r"\w+", t)) for t in texts], dtype=float)
    share = 1 / (1 + np.exp(words - 5.0))
    expected = (1 - share) * margins[:, 0] + share * margins[:, 1]
    np.testing.assert_allclose(gated.decision_function(texts), expected, atol=1e-6)
    # The word count is a column of its own that neither view weighs.
    assert all(view.coef_[0, -1] == 0 for view in gate.views)
    short, long = gate.behaviour_share(np.array([1.0, 40.0]))
    assert short > 0.95 and long < 0.05


def test_evidence_scales_fold_back_into_one_plain_linear_model(
    reviews: pd.DataFrame,
) -> None:
    texts, labels = list(reviews["text"]), list(reviews["label"])
    params = replace(SMALL, counterfactuals=False, polarity_swaps=False, nb_scale=0.5)
    pipeline = fit_pipeline(params, texts, labels)
    features = pipeline.named_steps["features"]
    matrix = features.transform(texts)
    scales = stacking.evidence_scales(features, matrix, np.asarray(labels), 0.5)
    # The lexicon column keeps 1; buckets never seen get 0.
    assert scales[-1] == 1.0
    assert (scales[np.asarray((matrix != 0).sum(axis=0)).ravel() == 0] == 0).all()
    refit = stacking.fit_linear(params, matrix, labels, None)
    scaled = pipeline.named_steps["classifier"]
    assert not np.allclose(scaled.coef_, refit.coef_)  # it changes the fit
    # Served over the plain features, with the scales folded into the weights.
    lean = LinearScorer(pipeline).predict_proba(texts)
    np.testing.assert_allclose(lean, pipeline.predict_proba(texts), atol=1e-6)
    assert (pipeline.predict(texts) == np.asarray(labels)).mean() > 0.9

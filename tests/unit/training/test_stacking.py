"""Unit tests for sentiment.stacking: two views blended into one linear model."""

from __future__ import annotations

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


def test_the_blend_is_one_model_equal_to_the_weighted_margins(
    reviews: pd.DataFrame,
) -> None:
    texts, labels = list(reviews["text"]), list(reviews["label"])
    pipeline, ngram, behaved = stacking.fit_views(
        SMALL, texts, labels, build_pipeline, vader_lexicon
    )
    features = pipeline.named_steps["features"]
    margins = stacking.margins(features, [ngram, behaved], texts)
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

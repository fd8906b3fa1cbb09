"""sentiment.model.scorer: the lean scorer gives the pipeline's probabilities."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from sentiment.model.scorer import LinearScorer, scorer, speed_up_inference
from sentiment.training.pipeline import (
    PRESETS,
    ModelParams,
    build_pipeline,
)


@pytest.mark.parametrize(
    ("classifier", "extra"),
    [
        ("logreg", {}),
        ("vote", {}),
        ("logreg", {"negated_weight": 0.0, "contrast_weight": 0.3, "lexicon": True}),
    ],
)
def test_lean_scorer_gives_the_pipelines_probabilities(
    texts_and_labels: tuple[list[str], list[str]],
    classifier: str,
    extra: dict[str, object],
) -> None:
    texts, labels = texts_and_labels
    params = ModelParams(
        n_features=1 << 16,
        char_min_df=1,
        classifier=classifier,
        **extra,  # type: ignore[arg-type]
    )
    pipeline = speed_up_inference(build_pipeline(params).fit(texts, labels))
    assert LinearScorer.supports(pipeline)
    unseen = [
        "a wonderful, moving film",
        "dull",
        "zzz",
        "superb but tedious",
        "not dull at all",
    ]
    lean = scorer(pipeline)(texts + unseen)
    np.testing.assert_allclose(lean, pipeline.predict_proba(texts + unseen), atol=1e-6)


def test_classic_pipeline_falls_back_to_sklearn(
    texts_and_labels: tuple[list[str], list[str]],
) -> None:
    texts, labels = texts_and_labels
    params = replace(PRESETS["classic"].params, char_min_df=1)
    pipeline = speed_up_inference(build_pipeline(params).fit(texts, labels))
    assert not LinearScorer.supports(pipeline)
    np.testing.assert_allclose(
        scorer(pipeline)(texts), pipeline.predict_proba(texts), atol=1e-9
    )

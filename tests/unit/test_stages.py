"""Unit tests for bench.stages: per-stage times of the lean scorer."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from bench.stages import STAGES, format_stages, stage_times
from sentiment.training.pipeline import BEHAVED, ModelParams, fit_pipeline


def test_every_stage_is_timed_and_named(reviews: pd.DataFrame) -> None:
    params = replace(BEHAVED, char_min_df=1, n_features=1 << 12)
    pipeline = fit_pipeline(params, list(reviews["text"]), reviews["label"])
    times = stage_times(pipeline, list(reviews["text"]) * 4, 8, rounds=1)
    assert set(times) == {*STAGES, "total"} and times["total"] > 0
    assert times["tokenise"] > 0
    line = format_stages("blended", 8, times)
    assert "batch   8" in line and all(stage in line for stage in STAGES)


def test_a_pipeline_the_lean_scorer_does_not_serve_is_refused(
    reviews: pd.DataFrame,
) -> None:
    params = ModelParams(featurizer="sklearn", classifier="vote", char_min_df=1)
    pipeline = fit_pipeline(params, list(reviews["text"]), reviews["label"])
    with pytest.raises(TypeError, match="per-stage"):
        stage_times(pipeline, list(reviews["text"]), 8, rounds=1)

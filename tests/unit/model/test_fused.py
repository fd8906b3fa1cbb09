"""sentiment.model.fused: one pass per batch gives the block-by-block logits."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from sentiment.model.scorer import LinearScorer, speed_up_inference
from sentiment.training.pipeline import BEHAVED, PRESETS, ModelParams, fit_pipeline

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "data" / "rotten_tomatoes_reviews.csv.gz"
LEGACY = ROOT / "tests" / "fixtures" / "legacy_model.joblib"
TRICKY = [
    "",
    "  Not   bad  at\tall.  ",
    "NOT good, but great",
    "ça n'est   pas mal, although the end drags",
    "dull; however, the cast isn't bad",
    "never boring never dull",
    "🎬 superb\u00a0\u00a0film",
    "a_b c__d 42",
    "not",
    ".,;!?",
    "not bad",
    "not good at all",
    "never dull",
]


def tiny(params: ModelParams, **changes: object) -> ModelParams:
    """``params`` with few buckets and every n-gram kept, for a tiny corpus."""
    return replace(params, n_features=1 << 16, char_min_df=1, **changes)  # type: ignore[arg-type]


PARAMS = {
    "ngrams (unscoped)": tiny(PRESETS["ngrams"].params),
    "accurate (scopes, typo lexicon)": tiny(BEHAVED),
    "vote of two heads": tiny(ModelParams(classifier="vote")),
    "scopes flipped, no lexicon": tiny(
        ModelParams(negated_weight=-1.0, contrast_weight=0.3)
    ),
    "word 2-3 + lexicon": tiny(BEHAVED, word_ngrams=(2, 3), char_ngrams=None),
    "two views shared by length": tiny(BEHAVED, behaviour_gate_words=6.0),
}


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    """Every review of the shipped corpus: the texts the served model meets."""
    return list(pd.read_csv(CORPUS)["text"].astype(str))


@pytest.mark.parametrize("name", PARAMS)
def test_fused_logits_equal_the_block_by_block_ones(
    reviews: pd.DataFrame, corpus_texts: list[str], name: str
) -> None:
    pipeline = speed_up_inference(
        fit_pipeline(PARAMS[name], list(reviews["text"]), reviews["label"])
    )
    scorer = LinearScorer(pipeline)
    assert scorer.fused is not None
    texts = TRICKY + corpus_texts
    fused, blocks = scorer.fused.logits(texts), scorer.block_logits(texts)
    assert fused.shape == (len(scorer.heads), len(texts))
    np.testing.assert_allclose(fused, blocks, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        scorer.predict_proba(TRICKY), pipeline.predict_proba(TRICKY), atol=1e-6
    )


def test_each_batch_size_gives_the_same_logits(reviews: pd.DataFrame) -> None:
    params = PARAMS["accurate (scopes, typo lexicon)"]
    scorer = LinearScorer(fit_pipeline(params, list(reviews["text"]), reviews["label"]))
    assert scorer.fused is not None
    whole = scorer.fused.logits(TRICKY)
    one_by_one = np.column_stack([scorer.fused.logits([t]) for t in TRICKY])
    np.testing.assert_allclose(whole, one_by_one, atol=1e-9)
    # One text alone is the served single review: every span may share one
    # weight that is not 1 (a text that is all one negation scope).
    reference = np.column_stack([scorer.block_logits([t]) for t in TRICKY])
    np.testing.assert_allclose(one_by_one, reference, rtol=1e-5, atol=1e-5)
    assert scorer.fused.logits([]).shape == (1, 0)


def test_blocks_cut_differently_are_scored_block_by_block(
    reviews: pd.DataFrame,
) -> None:
    # Unscoped n-grams with a scoped lexicon: one cut cannot serve both.
    params = tiny(PRESETS["ngrams"].params, lexicon=True)
    pipeline = fit_pipeline(params, list(reviews["text"]), reviews["label"])
    scorer = LinearScorer(pipeline)
    assert scorer.fused is None
    np.testing.assert_allclose(
        scorer.predict_proba(TRICKY), pipeline.predict_proba(TRICKY), atol=1e-6
    )


def test_a_model_pickled_before_the_move_gets_the_fused_path(
    corpus_texts: list[str],
) -> None:
    scorer = LinearScorer(joblib.load(LEGACY))
    assert scorer.fused is not None
    texts = TRICKY + corpus_texts[:2000]
    np.testing.assert_allclose(
        scorer.fused.logits(texts), scorer.block_logits(texts), rtol=1e-5, atol=1e-5
    )


def test_a_length_gate_mixes_the_views_by_the_words_it_counts(
    reviews: pd.DataFrame, corpus_texts: list[str]
) -> None:
    params = PARAMS["two views shared by length"]
    pipeline = fit_pipeline(params, list(reviews["text"]), reviews["label"])
    scorer = LinearScorer(pipeline)
    assert scorer.fused is not None and scorer.gate is not None
    texts = TRICKY + corpus_texts[:3000]
    logits, words = scorer.fused.logits_and_words(texts)
    assert words is not None
    expected = [len(re.findall(r"(?u)\b\w+\b", t)) for t in texts]
    np.testing.assert_array_equal(words, expected)
    np.testing.assert_allclose(
        scorer.predict_proba(texts), pipeline.predict_proba(texts), atol=1e-6
    )
    alone = np.vstack([scorer.predict_proba([t]) for t in TRICKY])
    np.testing.assert_allclose(alone, pipeline.predict_proba(TRICKY), atol=1e-6)

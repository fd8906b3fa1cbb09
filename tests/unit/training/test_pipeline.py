"""sentiment.training.pipeline: the presets, the blocks and the fit."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sentiment.training.pipeline import (
    PRESETS,
    ModelParams,
    build_pipeline,
    fit_pipeline,
    with_transpositions,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_learns_the_toy_task(
    texts_and_labels: tuple[list[str], list[str]], name: str
) -> None:
    texts, labels = texts_and_labels
    params = replace(PRESETS[name].params, char_min_df=1)
    pipeline = fit_pipeline(params, texts, labels)
    assert list(pipeline.predict(["a wonderful film", "a boring mess"])) == [
        "positive",
        "negative",
    ]


def test_a_model_needs_some_features() -> None:
    with pytest.raises(ValueError, match="word or character"):
        build_pipeline(ModelParams(word_ngrams=None, char_ngrams=None))


def test_counterfactuals_add_flipped_copies_to_training(
    texts_and_labels: tuple[list[str], list[str]],
) -> None:
    texts, labels = texts_and_labels
    texts = [*texts, "the cast is superb", "the plot is lifeless"]
    labels = [*labels, "positive", "negative"]
    params = ModelParams(n_features=1 << 16, char_min_df=1, counterfactuals=True)
    plain = ModelParams(n_features=1 << 16, char_min_df=1)
    flipped = fit_pipeline(params, texts, labels)
    unflipped = fit_pipeline(plain, texts, labels)
    positive = list(flipped.classes_).index("positive")
    probe = ["the cast is not superb"]
    assert (
        flipped.predict_proba(probe)[0, positive]
        < unflipped.predict_proba(probe)[0, positive]
    )


def test_lexicon_typos_add_adjacent_transpositions_with_the_same_valence() -> None:
    lexicon = {"good": 1.9, "bad": -2.5, "dogo": 0.5}
    extended = with_transpositions(lexicon)
    assert extended["ogod"] == extended["godo"] == 1.9
    assert extended["dogo"] == 0.5, "a real lexicon word keeps its own valence"
    assert "abd" not in extended, "words under four letters get no typos"
    assert {k: v for k, v in extended.items() if k in lexicon} == lexicon

"""The scikit-learn pipeline train.py fits: its parameters, presets and blocks."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sentiment.features.lexicon import LexiconScore
from sentiment.features.tfidf import HashingTfidf
from sentiment.model.scorer import WORD_PATTERN


@dataclass(frozen=True)
class ModelParams:
    """Everything that shapes the fitted pipeline, stored in its metadata.

    Attributes:
        featurizer: ``hashed`` (:class:`~sentiment.features.tfidf.HashingTfidf`) or
            ``sklearn`` (``TfidfVectorizer``, one string per n-gram).
        word_ngrams: word n-gram range, or None for no word features.
        char_ngrams: character n-gram range, or None for no character features.
        char_min_df: character n-grams in fewer training texts are ignored.
        n_features: hash buckets per feature block (``hashed`` only).
        classifier: ``logreg``, or ``vote`` (soft vote of logreg and naive Bayes).
        C: inverse regularisation strength of the logistic regression.
        negated_weight: what n-grams in a negation's scope count for (1: as
            any other, 0: nothing, -1: the opposite; :mod:`sentiment.features.scopes`).
        lexicon_negated_weight: the same for the lexicon feature.
        contrast_weight: what n-grams in a clause set aside by a contrast
            ("A, but B": A) count for.
        lexicon: add one feature, the text's VADER lexicon valence.
        lexicon_weight: that feature's scale (larger: it counts for more).
        counterfactuals: also train on negated copies of one-clause snippets,
            labels flipped (:mod:`sentiment.training.augment`).
        polarity_swaps: also train on copies whose polar words are swapped for
            opposite ones, labels flipped (before the negated copies are made).
        swap_weight: the sample weight of each polarity-swapped copy (real
            snippets and negated copies weigh 1).
        swap_max_words: only snippets of at most this many words are swapped.
        lexicon_typos: the lexicon feature also knows each word of four letters
            or more with two adjacent letters swapped ("nejoyable").
        behaviour_blend: above 0, the counterfactuals train a second view of
            the same features, blended in at this weight
            (:mod:`sentiment.training.stacking`); 0 trains one model on everything.
        behaviour_refit: above 0, the n-gram view is fitted on real reviews and
            only one scale per feature block is refitted with the
            counterfactuals, weighted this much
            (:func:`sentiment.training.stacking.fit_refit`).
        behaviour_gate_words: above 0, both views are kept and each text is
            shared between them by its length: the behaviour view decides half
            of a text of this many words, more of shorter ones
            (:class:`sentiment.model.gate.LengthGate`).
        behaviour_gate_width: the words that hand-over takes (its sigmoid's scale).
        nb_scale: above 0, the logistic regressions are fitted on columns scaled
            by their naive Bayes log-count ratio to this power, folded back into
            the weights (:func:`sentiment.training.stacking.evidence_scales`);
            real reviews only, so with no counterfactuals.
    """

    featurizer: str = "hashed"
    word_ngrams: tuple[int, int] | None = (1, 2)
    char_ngrams: tuple[int, int] | None = (3, 5)
    char_min_df: int = 2
    n_features: int = 1 << 20
    classifier: str = "logreg"
    C: float = 10.0
    max_iter: int = 3000
    nb_alpha: float = 0.1
    negated_weight: float = 1.0
    lexicon_negated_weight: float = -1.0
    contrast_weight: float = 1.0
    lexicon: bool = False
    lexicon_weight: float = 1.0
    counterfactuals: bool = False
    polarity_swaps: bool = False
    lexicon_typos: bool = False
    swap_weight: float = 1.0
    swap_max_words: int = 40
    behaviour_blend: float = 0.0
    behaviour_refit: float = 0.0
    behaviour_gate_words: float = 0.0
    behaviour_gate_width: float = 1.0
    nb_scale: float = 0.0


@dataclass(frozen=True)
class Preset:
    """A named configuration for ``train.py --preset``."""

    name: str
    summary: str
    params: ModelParams = field(default_factory=ModelParams)


BEHAVED = ModelParams(
    negated_weight=0.0,
    contrast_weight=0.3,
    lexicon=True,
    lexicon_typos=True,
    counterfactuals=True,
    polarity_swaps=True,
    swap_weight=0.5,
)
GATED = replace(
    BEHAVED, nb_scale=0.5, behaviour_gate_words=11.0, behaviour_gate_width=1.0
)
PRESETS = {
    "accurate": Preset(
        "accurate",
        "hashed word 1-2 + char 3-5 TF-IDF and a typo-tolerant lexicon feature, "
        "negation scopes and contrast clauses; a logistic regression on the reviews "
        "and one also trained on negated and polarity-swapped counterfactuals, both "
        "over evidence-scaled columns, the second deciding short texts (default)",
        GATED,
    ),
    "augmented": Preset(
        "augmented",
        "the same features into one logistic regression trained on the reviews and "
        "the counterfactuals (the default until the length gate: 2 points less "
        "accurate, docs/model.md)",
        BEHAVED,
    ),
    "blended": Preset(
        "blended",
        "the same features; a logistic regression on the reviews blended at 0.3 "
        "with one also trained on the counterfactuals, served as one (weaker on "
        "negated negatives: docs/model.md)",
        replace(BEHAVED, behaviour_blend=0.3),
    ),
    "ngrams": Preset(
        "ngrams",
        "hashed word 1-2 + char 3-5 TF-IDF into one logistic regression (the "
        "default until the behaviour suite)",
        ModelParams(),
    ),
    "fast": Preset(
        "fast",
        "hashed word 1-2 TF-IDF only into a logistic regression",
        ModelParams(char_ngrams=None, C=10.0),
    ),
    "classic": Preset(
        "classic",
        "scikit-learn word + char TF-IDF into a logreg + naive Bayes vote (before)",
        ModelParams(featurizer="sklearn", classifier="vote"),
    ),
}
DEFAULT_PRESET = "accurate"


def vader_lexicon() -> dict[str, float]:
    """VADER's word valences (Hutto and Gilbert 2014, MIT), one-word entries only.

    Read from the ``vaderSentiment`` package at fit time (training needs it; the
    fitted model carries the words it uses, so serving does not).
    """
    import re
    from importlib.resources import files

    text = files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    lexicon = {}
    for line in text.splitlines():
        word, valence, *_ = line.split("\t")
        if re.fullmatch(r"\w+", word):
            lexicon[word] = float(valence)
    return lexicon


def with_transpositions(lexicon: dict[str, float]) -> dict[str, float]:
    """``lexicon`` plus its words' adjacent transpositions, the commonest typo.

    Each word of at least four letters also stands for every spelling with two
    adjacent, different letters swapped ("enjoyable": "nejoyable", "ejnoyable",
    ...), with the same valence, unless that spelling is a lexicon word itself or
    already stands for another. About 8x the entries; the lookup stays one binary
    search per token, so serving costs the same.
    """
    extended = dict(lexicon)
    for word, valence in lexicon.items():
        if len(word) < 4 or not word.isalpha():
            continue
        for i in range(len(word) - 1):
            if word[i] != word[i + 1]:
                typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
                extended.setdefault(typo, valence)
    return extended


def feature_blocks(params: ModelParams) -> list[tuple[str, Any]]:
    """The ``(name, transformer)`` feature blocks ``params`` asks for."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    blocks: list[tuple[str, Any]] = []
    if params.word_ngrams:
        if params.featurizer == "hashed":
            word: Any = HashingTfidf(
                "word",
                params.word_ngrams,
                params.n_features,
                negated_weight=params.negated_weight,
                contrast_weight=params.contrast_weight,
            )
        else:
            word = TfidfVectorizer(
                ngram_range=params.word_ngrams,
                sublinear_tf=True,
                token_pattern=WORD_PATTERN,
                dtype=np.float32,
            )
        blocks.append(("word", word))
    if params.char_ngrams:
        if params.featurizer == "hashed":
            char: Any = HashingTfidf(
                "char",
                params.char_ngrams,
                params.n_features,
                params.char_min_df,
                negated_weight=params.negated_weight,
                contrast_weight=params.contrast_weight,
            )
        else:
            char = TfidfVectorizer(
                analyzer="char",
                ngram_range=params.char_ngrams,
                min_df=params.char_min_df,
                sublinear_tf=True,
                dtype=np.float32,
            )
        blocks.append(("char", char))
    if params.lexicon:
        blocks.append(
            (
                "lexicon",
                LexiconScore(
                    with_transpositions(vader_lexicon())
                    if params.lexicon_typos
                    else vader_lexicon(),
                    negated_weight=params.lexicon_negated_weight,
                    contrast_weight=params.contrast_weight,
                    weight=params.lexicon_weight,
                ),
            )
        )
    if not blocks:
        raise ValueError("a model needs word or character n-grams (or both)")
    return blocks


def build_pipeline(params: ModelParams) -> Any:
    """TF-IDF feature blocks into a linear classifier, as one sklearn ``Pipeline``."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import FeatureUnion, Pipeline

    logreg = LogisticRegression(C=params.C, max_iter=params.max_iter)
    classifier: Any = logreg
    if params.classifier == "vote":
        classifier = VotingClassifier(
            [("logreg", logreg), ("naive_bayes", MultinomialNB(alpha=params.nb_alpha))],
            voting="soft",
        )
    return Pipeline(
        [("features", FeatureUnion(feature_blocks(params))), ("classifier", classifier)]
    )


def fit_pipeline(params: ModelParams, texts: list[str], labels: Any) -> Any:
    """A pipeline built from ``params`` fitted on the texts (and counterfactuals)."""
    if params.behaviour_gate_words:
        from sentiment.training.stacking import fit_gated

        return fit_gated(params, texts, labels, build_pipeline, vader_lexicon)
    if params.behaviour_refit:
        from sentiment.training.stacking import fit_refit

        return fit_refit(params, texts, labels, build_pipeline, vader_lexicon)
    if params.behaviour_blend:
        from sentiment.training.stacking import fit_blended

        return fit_blended(params, texts, labels, build_pipeline, vader_lexicon)
    if params.nb_scale:
        if params.counterfactuals or params.polarity_swaps:
            raise ValueError(
                "nb_scale with counterfactuals needs two views: set "
                "behaviour_gate_words or behaviour_blend"
            )
        from sentiment.training.stacking import fit_scaled

        return fit_scaled(params, list(texts), labels, build_pipeline, vader_lexicon)
    texts, labels = list(texts), list(labels)
    weights = [1.0] * len(texts)
    if params.polarity_swaps:
        from sentiment.training.augment import polarity_swaps

        extra_texts, extra_labels = polarity_swaps(
            texts, labels, vader_lexicon(), max_words=params.swap_max_words
        )
        texts, labels = texts + extra_texts, labels + extra_labels
        weights += [params.swap_weight] * len(extra_texts)
    if params.counterfactuals:
        from sentiment.training.augment import counterfactuals

        extra_texts, extra_labels = counterfactuals(texts, labels)
        texts, labels = texts + extra_texts, labels + extra_labels
        weights += [1.0] * len(extra_texts)
    pipeline = build_pipeline(params)
    if all(weight == 1.0 for weight in weights):
        return pipeline.fit(texts, np.asarray(labels))
    return pipeline.fit(
        texts, np.asarray(labels), classifier__sample_weight=np.asarray(weights)
    )

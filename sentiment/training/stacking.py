"""Two views of one set of features, blended into one linear model.

The n-gram view is a logistic regression on real reviews only; the behaviour
view is the same features fitted with the negated and polarity-swapped
counterfactuals as well (:mod:`sentiment.training.augment`). The counterfactuals
then move only the behaviour view's weights, and the blend
``(1 - a) * m_ngram + a * m_behaved`` lets the behaviour view decide where the
n-gram view's margin is small (a sum's sign is its larger term's when they
disagree). Both margins are linear in the same features, so the blend is one
``LogisticRegression`` with weights ``(1 - a) * w_ngram + a * w_behaved``: served
at the cost of one model.

Or the views are kept apart and shared out by each text's length
(:func:`fit_gated`, :class:`sentiment.model.gate.LengthGate`): the behaviour
view decides short sentences, where a few n-grams carry the verdict, and the
n-gram view long reviews, where the n-grams hold the evidence.

Tried and measured (``docs/model.md``): a combiner fitted out of fold on real
reviews gives the behaviour view a weight near zero (real reviews reward the
n-gram view), and gating on the n-gram margin's size trades accuracy for
behaviour no better than the blend; gating on length does (the ``gated`` preset).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

# ``params`` is a ``training.pipeline.ModelParams`` and the builders come from that
# module, passed in: the pipeline calls this module, never the other way round.
Builder = Callable[[Any], Any]
REFIT_FOLDS = 5  # out-of-fold margins for the per-block refit
Lexicon = Callable[[], dict[str, float]]


def augmentations(
    params: Any, texts: list[str], labels: list[str], lexicon: Lexicon
) -> tuple[list[str], list[str], list[float]]:
    """The counterfactual copies ``params`` asks for, with their sample weights.

    The same copies :func:`sentiment.training.pipeline.fit_pipeline` trains on.
    """
    from sentiment.training.augment import counterfactuals, polarity_swaps

    extra: list[str] = []
    extra_labels: list[str] = []
    weights: list[float] = []
    if params.polarity_swaps:
        swapped, swapped_labels = polarity_swaps(
            texts, labels, lexicon(), max_words=params.swap_max_words
        )
        extra, extra_labels = swapped, swapped_labels
        weights = [params.swap_weight] * len(swapped)
    if params.counterfactuals:
        negated, negated_labels = counterfactuals(texts + extra, labels + extra_labels)
        extra, extra_labels = extra + negated, extra_labels + negated_labels
        weights += [1.0] * len(negated)
    return extra, extra_labels, weights


def evidence_scales(
    features: Any, matrix: Any, labels: NDArray[Any], exponent: float
) -> NDArray[np.float64]:
    """Each column's naive Bayes log-count ratio, to the power ``exponent``.

    ``r = log((p / |p|) / (q / |q|))`` with ``p`` (``q``) one plus the number of
    positive (negative) training texts that have the feature (Wang and Manning,
    "Baselines and Bigrams", ACL 2012). A logistic regression fitted on the
    columns times ``sign(r) |r|^exponent`` and whose weights are then multiplied
    back by the same scales is a linear model over the plain features: served as
    any other, it only regularises less the n-grams that separate the labels
    (NBSVM's idea). Columns never seen in training get 0; blocks that are not
    n-grams (the lexicon) keep 1.
    """
    from sentiment.features.lexicon import LexiconScore

    present = (matrix != 0).astype(np.float64)
    positive = np.asarray(labels) == "positive"
    p = 1.0 + np.asarray(present[positive].sum(axis=0)).ravel()
    q = 1.0 + np.asarray(present[~positive].sum(axis=0)).ravel()
    ratio = np.log((p / p.sum()) / (q / q.sum()))
    scales = np.sign(ratio) * np.abs(ratio) ** exponent
    scales[np.asarray(present.sum(axis=0)).ravel() == 0] = 0.0
    offset = 0
    for _, block in features.transformer_list:
        if isinstance(block, LexiconScore):
            scales[offset : offset + block.n_features] = 1.0
        offset += block.n_features
    return np.asarray(scales, dtype=np.float64)


def fit_linear(
    params: Any,
    matrix: Any,
    labels: Any,
    scales: NDArray[np.float64] | None,
    sample_weight: Any = None,
) -> Any:
    """A logistic regression on ``matrix`` (its columns scaled, then folded back)."""
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=params.C, max_iter=params.max_iter)
    if scales is None:
        return model.fit(matrix, np.asarray(labels), sample_weight=sample_weight)
    model.fit(
        matrix @ sp.diags(scales), np.asarray(labels), sample_weight=sample_weight
    )
    model.coef_ = model.coef_ * scales
    return model


def fit_views(
    params: Any, texts: list[str], labels: list[str], build: Builder, lexicon: Lexicon
) -> Any:
    """The fitted features and both views' logistic regressions.

    The features (their IDF, and with ``params.nb_scale`` the evidence scales)
    are fitted on the real reviews alone, so both views read a text the same way.
    """
    import scipy.sparse as sp

    plain = replace(params, counterfactuals=False, polarity_swaps=False)
    pipeline = build(plain)
    features = pipeline.named_steps["features"].fit(texts)
    matrix = features.transform(texts)
    scales = (
        evidence_scales(features, matrix, np.asarray(labels), params.nb_scale)
        if params.nb_scale
        else None
    )
    ngram = fit_linear(params, matrix, labels, scales)
    extra, extra_labels, weights = augmentations(params, texts, labels, lexicon)
    behaved = fit_linear(
        params,
        sp.vstack([matrix, features.transform(extra)]).tocsr(),
        labels + extra_labels,
        scales,
        sample_weight=np.asarray([1.0] * len(texts) + weights),
    )
    return pipeline, ngram, behaved


def fit_scaled(
    params: Any, texts: list[str], labels: Any, build: Builder, lexicon: Lexicon
) -> Any:
    """One logistic regression on real reviews, over evidence-scaled columns."""
    pipeline = build(params)
    features = pipeline.named_steps["features"].fit(texts)
    matrix = features.transform(texts)
    scales = evidence_scales(features, matrix, np.asarray(labels), params.nb_scale)
    pipeline.steps[-1] = ("classifier", fit_linear(params, matrix, labels, scales))
    return pipeline


def collapse(pipeline: Any, views: list[Any], weights: list[float]) -> Any:
    """``pipeline`` with one logistic regression: the views' margins, weighted."""
    import copy

    merged = copy.deepcopy(views[0])
    merged.coef_ = sum(w * v.coef_ for w, v in zip(weights, views, strict=True))
    merged.intercept_ = sum(
        w * v.intercept_ for w, v in zip(weights, views, strict=True)
    )
    pipeline.steps[-1] = ("classifier", merged)
    return pipeline


def fit_blended(
    params: Any, texts: list[str], labels: Any, build: Builder, lexicon: Lexicon
) -> Any:
    """The n-gram and behaviour views blended: ``(1 - a) * m_ngram + a * m_behaved``.

    ``a`` is ``params.behaviour_blend``; one fitted pipeline, one linear model.
    """
    pipeline, *views = fit_views(params, list(texts), list(labels), build, lexicon)
    blend = params.behaviour_blend
    return collapse(pipeline, views, [1.0 - blend, blend])


def block_margins(features: Any, coef: NDArray[Any], matrix: Any) -> NDArray[Any]:
    """Each feature block's part of a linear margin, shape ``(texts, blocks)``."""
    parts, offset = [], 0
    for _, block in features.transformer_list:
        width = block.n_features
        parts.append(matrix[:, offset : offset + width] @ coef[offset : offset + width])
        offset += width
    return np.column_stack(parts)


def fit_refit(
    params: Any, texts: list[str], labels: Any, build: Builder, lexicon: Lexicon
) -> Any:
    """The n-gram view, then one scale per block refitted with the counterfactuals.

    The n-gram view (every weight) learns from real reviews only. The
    counterfactuals then move just one number per feature block (word, char,
    lexicon) and the intercept: a small logistic regression on each block's part
    of the margin, out of fold for the real reviews and for the copies made from
    them (in fold, an n-gram model at C=10 has all but memorised its reviews), the
    copies weighted ``params.behaviour_refit``. The result is the n-gram view with
    each block's weights scaled: one linear model, served as one.
    """
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    texts, labels = list(texts), np.asarray(labels)
    plain = replace(params, counterfactuals=False, polarity_swaps=False)
    pipeline = build(plain)
    features = pipeline.named_steps["features"].fit(texts)
    matrix = features.transform(texts).tocsr()

    def view(rows: Any) -> Any:
        return LogisticRegression(C=params.C, max_iter=params.max_iter).fit(
            matrix[rows], labels[rows]
        )

    stacked, stacked_labels, weights = [], [], []
    splitter = StratifiedKFold(REFIT_FOLDS, shuffle=True, random_state=0)
    for train, test in splitter.split(texts, labels):
        fold = view(train)
        held = [texts[i] for i in test]
        extra, extra_labels, extra_weights = augmentations(
            params, held, list(labels[test]), lexicon
        )
        rows = sp.vstack([matrix[test], features.transform(extra)]).tocsr()
        stacked.append(block_margins(features, fold.coef_.ravel(), rows))
        stacked_labels += list(labels[test]) + extra_labels
        weights += [1.0] * len(test) + [
            w * params.behaviour_refit for w in extra_weights
        ]
    combiner = LogisticRegression(C=1e4, max_iter=1000).fit(
        np.vstack(stacked),
        np.asarray(stacked_labels),
        sample_weight=np.asarray(weights),
    )
    ngram = view(np.arange(len(texts)))
    scales = np.concatenate(
        [
            np.full(block.n_features, combiner.coef_[0, i])
            for i, (_, block) in enumerate(features.transformer_list)
        ]
    )
    ngram.coef_ = ngram.coef_ * scales
    ngram.intercept_ = combiner.intercept_.copy()
    pipeline.steps[-1] = ("classifier", ngram)
    return pipeline


def fit_gated(
    params: Any, texts: list[str], labels: Any, build: Builder, lexicon: Lexicon
) -> Any:
    """Both views, kept apart and shared out by length (:class:`LengthGate`).

    The behaviour view decides half of a text of ``params.behaviour_gate_words``
    words, more of a shorter one, less of a longer one.
    """
    from sentiment.features.tfidf import WordCount
    from sentiment.model.gate import LengthGate

    pipeline, *views = fit_views(params, list(texts), list(labels), build, lexicon)
    features = pipeline.named_steps["features"]
    features.transformer_list.append(("words", WordCount().fit(texts)))
    for view in views:  # weight 0 on the word count, the last column
        view.coef_ = np.hstack([view.coef_, np.zeros((1, 1))])
        view.n_features_in_ = view.coef_.shape[1]
    gate = LengthGate(views, params.behaviour_gate_words, params.behaviour_gate_width)
    pipeline.steps[-1] = ("classifier", gate)
    return pipeline

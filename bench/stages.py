"""Where a served prediction's time goes: per-stage time of the lean scorer.

The stages of :class:`sentiment.model.scorer.LinearScorer` as it serves (the
one-pass :class:`sentiment.model.fused.FusedScorer` when the blocks allow it,
else block by block):

- **tokenise**: lower-casing (and for characters, whitespace runs);
- **scopes**: cutting each text into negation-scope and contrast spans
  (:mod:`sentiment.features.scopes`);
- **hash**: code points, the n-gram hashes, their buckets, grouped per text
  (block by block: and their TF-IDF weights);
- **lexicon**: the lexicon feature;
- **dot product**: the rest of the call: TF-IDF weights, norms, the weights times
  the features, the probabilities.

Each stage is timed on its own, all in turn round after round
(:func:`bench.alternate.in_turn`); all but ``tokenise`` are differences of
cumulative timings, so they carry both timings' noise.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from bench.alternate import in_turn
from sentiment.features import LexiconScore
from sentiment.features.scopes import segments
from sentiment.model.fused import FusedScorer
from sentiment.model.scorer import LinearScorer

STAGES = ("tokenise", "scopes", "hash", "lexicon", "dot product")


def per_review_us(work: Callable[[list[str]], Any], batches: list[list[str]]) -> float:
    """Microseconds per review of ``work`` over ``batches``, once each."""
    reviews = sum(len(batch) for batch in batches)
    started = time.perf_counter()
    for batch in batches:
        work(batch)
    return (time.perf_counter() - started) * 1e6 / reviews


def stage_times(
    pipeline: Any, texts: list[str], batch: int, rounds: int = 5, reviews: int = 1024
) -> dict[str, float]:
    """Median microseconds per review of each stage at one batch size.

    Raises:
        TypeError: the pipeline is not served by the lean scorer.
    """
    if not LinearScorer.supports(pipeline):
        raise TypeError("per-stage times need hashed blocks into a linear model")
    scorer = LinearScorer(pipeline)
    batches = [texts[i : i + batch] for i in range(0, min(reviews, len(texts)), batch)]
    works = fused_stages(scorer.fused) if scorer.fused else block_stages(scorer)

    def whole(texts: list[str]) -> Any:
        segments.cache_clear()
        return scorer.predict_proba(texts)

    works["whole"] = whole
    timed = in_turn(
        {name: partial(per_review_us, work, batches) for name, work in works.items()},
        rounds,
    )
    median = {name: statistics.median(values) for name, values in timed.items()}
    return {
        "tokenise": median["tokenise"],
        "scopes": median["scopes"] - median["tokenise"],
        "hash": median["ngrams"] - median["scopes"],
        "lexicon": median["features"] - median["ngrams"],
        "dot product": median["whole"] - median["features"],
        "total": median["whole"],
    }


Work = Callable[[list[str]], Any]


def fused_stages(fused: FusedScorer) -> dict[str, Work]:
    """Cumulative prefixes of the one-pass scorer's call."""

    def scopes(texts: list[str]) -> Any:
        segments.cache_clear()  # each batch is new text, as when serving
        return fused.spans(fused.prepare(texts))

    return {
        "tokenise": fused.prepare,
        "scopes": scopes,
        "ngrams": lambda texts: fused.hashed(scopes(texts)),
        "features": lambda texts: fused.lexicon(fused.hashed(scopes(texts))),
    }


def block_stages(scorer: LinearScorer) -> dict[str, Work]:
    """Cumulative prefixes of the block-by-block call."""
    ngram_blocks = [b for b, _ in scorer.blocks if not isinstance(b, LexiconScore)]
    lexicon_blocks = [b for b, _ in scorer.blocks if isinstance(b, LexiconScore)]

    def tokenise(texts: list[str]) -> None:
        for block in ngram_blocks:
            block.prepare(texts)

    def scopes(texts: list[str]) -> None:
        segments.cache_clear()
        for block in ngram_blocks:
            for doc in block.prepare(texts):
                block.spans(doc)

    def ngrams(texts: list[str]) -> None:
        segments.cache_clear()
        for block in ngram_blocks:
            block.weighted_rows(texts)

    def features(texts: list[str]) -> None:  # the lexicon reuses the scopes' cache
        segments.cache_clear()
        for block in ngram_blocks + lexicon_blocks:
            block.weighted_rows(texts)

    return {
        "tokenise": tokenise,
        "scopes": scopes,
        "ngrams": ngrams,
        "features": features,
    }


def format_stages(name: str, batch: int, stages: dict[str, float]) -> str:
    """One line: each stage's microseconds per review at one batch size."""
    cells = "  ".join(f"{stage} {stages[stage]:6.1f}" for stage in STAGES)
    return f"{name[:44]:<45} batch {batch:>3}: {cells}  total {stages['total']:6.1f} us"

"""Every hashed feature block and linear head of a pipeline, in one pass per batch.

:class:`~sentiment.model.scorer.LinearScorer` scored block by block: each block
lower-cased the batch, cut it into scopes, built its own array of code points and
hashed, sorted and weighed on its own, and the lexicon hashed the words a third
time. At batch 1 the count of numpy calls, not their size, was the cost (2,600
reviews/s); at batch 128 the lexicon, ``argsort`` and two gathers per n-gram.
Here the batch is prepared, cut into scopes and turned into code points once; the
word tokens are found once (the word n-grams and the lexicon share them); each
block's occurrences are grouped by one ``np.sort`` of keys that carry the span's
weight in their low bits; and one gather per n-gram reads the bucket's IDF and its
IDF times each head's weight from one table.

The numbers are the block-by-block ones (``tests/unit/model/test_fused.py``:
probabilities to 1e-6 on the shipped corpus), for any stored model: the table is
built from a fitted pipeline's ``idf_`` and weights when a worker loads it, so old
pickles get this path too. Word features are read from the text with whitespace
runs collapsed (the character blocks' text): a run of non-word characters
separates the same tokens as one space.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentiment.features.hashing import (
    U64,
    WHITESPACE_RUNS,
    CodePoints,
    Tokens,
    char_ngrams_in,
    tokens_in,
    word_ngrams_of,
)
from sentiment.features.lexicon import LexiconScore
from sentiment.features.scopes import segments
from sentiment.features.tfidf import HashingTfidf, WordCount

Heads = list[tuple[NDArray[np.float64], float]]
NO_TOKENS = Tokens(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=U64))


@dataclass
class Spans:
    """A prepared batch cut into spans: their texts, documents and weights."""

    texts: list[str]
    doc: NDArray[np.int64]
    weight: NDArray[np.float64]  # 1 plain, -1 negated, the contrast share aside
    n_docs: int


@dataclass
class Hashed:
    """A batch's occurrences, grouped per block: (document, bucket) and sums."""

    spans: Spans
    tokens: Tokens
    groups: list[tuple[NDArray[np.int64], NDArray[np.int64], Any, Any]]
    unigrams: NDArray[np.uint64] | None  # each token's word 1-gram hash

    @cached_property
    def token_doc(self) -> NDArray[np.int64]:
        """Each word token's document (the lexicon and the word count read it)."""
        return self.spans.doc[self.tokens.doc]

    @cached_property
    def words(self) -> NDArray[np.int64]:
        """Each document's number of word tokens."""
        return np.bincount(self.token_doc, minlength=self.spans.n_docs)


class FusedScorer:
    """The logits of hashed blocks into linear heads, every block in one pass.

    Args:
        blocks: the pipeline's feature blocks and their column offsets.
        heads: ``(weights, bias)`` of each linear head, over all blocks' columns.
    """

    def __init__(self, blocks: list[tuple[HashingTfidf, int]], heads: Heads) -> None:
        self.biases = np.array([bias for _, bias in heads], dtype=np.float64)
        self.ngram_blocks: list[tuple[HashingTfidf, NDArray[np.float32]]] = []
        self.lexicons: list[tuple[LexiconScore, NDArray[np.float64]]] = []
        self.counts_words = False
        for block, offset in blocks:
            columns = slice(offset, offset + block.n_features)
            if isinstance(block, WordCount):  # read by a gate, weight 0 in the heads
                self.counts_words = True
                continue
            if isinstance(block, LexiconScore):
                head_weights = [float(w[offset]) for w, _ in heads]
                self.lexicons.append((block, np.array(head_weights)))
                continue
            # One row per bucket, its IDF then its IDF times each head's weight:
            # one gather per n-gram reads all (float32 halves the cache misses;
            # the block-by-block values were float32 already).
            idf = block.idf_.astype(np.float64)
            table = np.column_stack([idf] + [idf * w[columns] for w, _ in heads])
            self.ngram_blocks.append((block, np.ascontiguousarray(table, np.float32)))
        first = next(b for b, _ in blocks if not isinstance(b, WordCount))
        self.scoped = first.scoped
        self.contrast_weight = first.contrast_weight
        self.chars = any(b.analyzer == "char" for b, _ in self.ngram_blocks)
        self.words = any(b.analyzer == "word" for b, _ in self.ngram_blocks)

    @staticmethod
    def supports(blocks: list[tuple[HashingTfidf, int]]) -> bool:
        """Whether one cut into spans serves every block (else block by block)."""
        cut = [b for b, _ in blocks if not isinstance(b, WordCount)]
        if not cut:
            return False
        first = cut[0]
        return all(
            b.scoped == first.scoped
            and (not b.scoped or b.contrast_weight == first.contrast_weight)
            and (isinstance(b, LexiconScore) or b.analyzer in ("char", "word"))
            for b in cut
        )

    def prepare(self, texts: list[str]) -> list[str]:
        """Lower-cased, whitespace runs collapsed when a block reads characters."""
        if self.chars:
            return [WHITESPACE_RUNS.sub(" ", text.lower()) for text in texts]
        return [text.lower() for text in texts]

    def spans(self, docs: list[str]) -> Spans:
        """The batch cut into negation scopes and contrast clauses (or left whole)."""
        n_docs = len(docs)
        if not self.scoped:
            return Spans(docs, np.arange(n_docs), np.ones(n_docs), n_docs)
        cut = [segments(doc, self.contrast_weight) for doc in docs]
        if all(len(c) == 1 and c[0][1] == 1.0 for c in cut):
            return Spans(docs, np.arange(n_docs), np.ones(n_docs), n_docs)
        counts = [len(c) for c in cut]
        return Spans(
            [text for c in cut for text, _ in c],
            np.repeat(np.arange(n_docs), counts),
            np.array([weight for c in cut for _, weight in c], dtype=np.float64),
            n_docs,
        )

    def hashed(self, spans: Spans) -> Hashed:
        """Each block's occurrences grouped by (document, bucket), weights summed."""
        batch = CodePoints(spans.texts)
        needs_tokens = self.words or self.lexicons or self.counts_words
        tokens = tokens_in(batch) if needs_tokens else NO_TOKENS
        weights, code = np.unique(spans.weight, return_inverse=True)
        # A span weight's index; one bit even for one weight unless that weight is 1
        # (a batch of one negated text has the single weight -1, not a count).
        code_bits = max(len(weights) - 1, int(weights.tolist() != [1.0])).bit_length()
        groups = []
        unigrams = None
        for block, _ in self.ngram_blocks:
            if block.analyzer == "char":
                rows, hashes = char_ngrams_in(batch, block.ngram_range)
            else:
                rows, hashes = word_ngrams_of(tokens, block.ngram_range)
                if block.ngram_range[0] == 1 and unigrams is None:
                    unigrams = hashes[: len(tokens.hashes)]
            bits = int(block.n_features).bit_length() - 1
            keys = (spans.doc[rows] << bits) | (hashes >> U64(64 - bits)).astype(
                np.int64
            )
            if code_bits:
                keys = (keys << code_bits) | code[rows]
            keys.sort()
            group = keys >> code_bits
            first = np.empty(len(keys), dtype=bool)
            first[:1] = True
            np.not_equal(group[1:], group[:-1], out=first[1:])
            starts = np.flatnonzero(first)
            unique = group[starts]
            if not code_bits:  # every span weighs 1: sums are counts
                sums: Any = np.diff(np.append(starts, len(keys))).astype(np.float64)
                norm_sums = sums
            elif len(keys):
                occurrence = weights[keys & ((1 << code_bits) - 1)]
                value = np.where(
                    occurrence >= 0, occurrence, -occurrence * block.negated_weight
                )
                sums = np.add.reduceat(value, starts)
                norm_sums = np.add.reduceat(np.abs(occurrence), starts)
            else:
                sums = norm_sums = np.zeros(0)
            groups.append((unique >> bits, unique & ((1 << bits) - 1), sums, norm_sums))
        return Hashed(spans, tokens, groups, unigrams)

    def lexicon(self, hashed: Hashed) -> NDArray[np.float64]:
        """Each lexicon block's contribution to each head, shape ``(heads, docs)``."""
        n_docs = hashed.spans.n_docs
        total = np.zeros((len(self.biases), n_docs))
        if not self.lexicons:
            return total
        tokens = hashed.tokens
        unigrams = hashed.unigrams
        if unigrams is None:
            unigrams = word_ngrams_of(tokens, (1, 1))[1]
        token_doc = hashed.token_doc
        count = np.maximum(hashed.words, 1)
        for block, head_weights in self.lexicons:
            hit, position = block.lookup(unigrams)
            found = np.where(hit, block.valences_[position], 0.0)
            if block.scoped:
                weight = hashed.spans.weight[tokens.doc]
                found *= np.where(weight >= 0, weight, -weight * block.negated_weight)
            score = np.bincount(token_doc, weights=found, minlength=n_docs)
            score = (score / (block.scale_ * np.sqrt(count))).astype(block.dtype)
            total += head_weights[:, None] * score
        return total

    def dot(self, hashed: Hashed, lexicon: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each head's logit per text: TF-IDF, L2-normalised by block, times weights."""
        n_docs = hashed.spans.n_docs
        totals = lexicon + self.biases[:, None]
        for (block, table), (doc, bucket, sums, norm_sums) in zip(
            self.ngram_blocks, hashed.groups, strict=True
        ):
            rows = np.take(table, bucket, axis=0)  # 7x faster than table[bucket]
            tf = sublinear(sums) if block.sublinear_tf else sums
            loud = (
                tf
                if norm_sums is sums
                else (sublinear(norm_sums) if block.sublinear_tf else norm_sums)
            )
            loud = loud * rows[:, 0]
            norms = np.sqrt(np.bincount(doc, weights=loud * loud, minlength=n_docs))
            norms[norms == 0] = 1.0
            for head in range(len(self.biases)):
                totals[head] += (
                    np.bincount(doc, weights=tf * rows[:, 1 + head], minlength=n_docs)
                    / norms
                )
        return totals

    def logits(self, texts: list[str]) -> NDArray[np.float64]:
        """Each head's decision value for each text, shape ``(heads, texts)``."""
        return self.logits_and_words(texts)[0]

    def logits_and_words(
        self, texts: list[str]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """:meth:`logits`, and each text's word count when a block counts them."""
        hashed = self.hashed(self.spans(self.prepare(texts)))
        words = hashed.words.astype(np.float64) if self.counts_words else None
        return self.dot(hashed, self.lexicon(hashed)), words


def sublinear(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    """``sign(c) * (1 + log|c|)`` above 1 in size, ``c`` below (as HashingTfidf)."""
    large = np.flatnonzero(np.abs(counts) > 1.0)  # few: most n-grams occur once
    if not len(large):
        return counts
    out = counts.copy()
    out[large] = np.copysign(1.0 + np.log(np.abs(counts[large])), counts[large])
    return out

"""sentiment.features.tfidf: the same n-grams and TF-IDF as scikit-learn."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from sentiment.features.hashing import char_ngram_hash, word_ngram_hash
from sentiment.features.tfidf import HashingTfidf, WordCount
from sentiment.model.scorer import WORD_PATTERN

BITS = 24  # enough buckets that these few n-grams never share one
DOCS = [
    "Hello  world, the FILM was great",
    "A  b cd_e   ÉTÉ naïve-café’s 10/10",
    "ab",
    "",
    "x y z w x y",
    "tabs\tand\nnewlines\t\tdouble",
    "日本語のレビュー 🎬 great",
]
CASES = [("char", (3, 5)), ("char", (1, 3)), ("word", (1, 2)), ("word", (1, 3))]


def sklearn_vectorizer(cls: type, analyzer: str, ngram_range: tuple[int, int], **kw):
    if analyzer == "word":
        kw["token_pattern"] = WORD_PATTERN
    return cls(analyzer=analyzer, ngram_range=ngram_range, **kw)


def bucket_of(analyzer: str, ngram: str) -> int:
    value = (
        char_ngram_hash(ngram)
        if analyzer == "char"
        else word_ngram_hash(ngram.split(" "))
    )
    return value >> (64 - BITS)


def as_dense(hashing: HashingTfidf, docs: list[str], tfidf: bool) -> np.ndarray:
    matrix = hashing.transform(docs) if tfidf else None
    if matrix is None:
        entries = hashing.counts(docs)
        dense = np.zeros((entries.n_rows, hashing.n_features), dtype=np.float32)
        dense[entries.rows, entries.columns] = entries.values
        return dense
    return matrix.toarray()


@pytest.mark.parametrize(("analyzer", "ngram_range"), CASES)
def test_counts_equal_sklearn_count_vectorizer(
    analyzer: str, ngram_range: tuple[int, int]
) -> None:
    reference = sklearn_vectorizer(CountVectorizer, analyzer, ngram_range)
    expected = reference.fit_transform(DOCS).toarray()
    ours = as_dense(HashingTfidf(analyzer, ngram_range, 1 << BITS), DOCS, tfidf=False)
    buckets = {g: bucket_of(analyzer, g) for g in reference.vocabulary_}
    assert len(set(buckets.values())) == len(buckets), "a collision in the test set"
    for ngram, column in reference.vocabulary_.items():
        assert (ours[:, buckets[ngram]] == expected[:, column]).all(), ngram
    assert ours.sum() == expected.sum(), "n-grams sklearn does not make"


@pytest.mark.parametrize(("analyzer", "ngram_range"), CASES)
@pytest.mark.parametrize("min_df", [1, 2])
def test_tfidf_equals_sklearn_tfidf_vectorizer(
    analyzer: str, ngram_range: tuple[int, int], min_df: int
) -> None:
    reference = sklearn_vectorizer(
        TfidfVectorizer, analyzer, ngram_range, sublinear_tf=True, min_df=min_df
    )
    expected = reference.fit_transform(DOCS).toarray()
    hashing = HashingTfidf(analyzer, ngram_range, 1 << BITS, min_df=min_df).fit(DOCS)
    ours = as_dense(hashing, DOCS, tfidf=True)
    for ngram, column in reference.vocabulary_.items():
        np.testing.assert_allclose(
            ours[:, bucket_of(analyzer, ngram)], expected[:, column], atol=1e-6
        )
    np.testing.assert_allclose(
        np.linalg.norm(ours, axis=1), np.linalg.norm(expected, axis=1), atol=1e-6
    )


def test_unseen_ngrams_weigh_nothing() -> None:
    hashing = HashingTfidf("word", (1, 1), 1 << 16).fit(["good film", "bad film"])
    assert (
        hashing.transform(["zzz qqq"]).nnz == 0
        or not hashing.transform(["zzz qqq"]).toarray().any()
    )
    assert hashing.transform(["good"]).toarray().max() == pytest.approx(1.0)


def test_batch_and_single_texts_agree() -> None:
    hashing = HashingTfidf("char", (3, 5), 1 << 18).fit(DOCS)
    batch = hashing.transform(DOCS).toarray()
    singles = np.vstack([hashing.transform([doc]).toarray() for doc in DOCS])
    np.testing.assert_array_equal(batch, singles)


def test_pickles_and_keeps_its_output() -> None:
    hashing = HashingTfidf("word", (1, 2), 1 << 16).fit(DOCS)
    restored = pickle.loads(pickle.dumps(hashing))
    np.testing.assert_array_equal(
        restored.transform(DOCS).toarray(), hashing.transform(DOCS).toarray()
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [({"analyzer": "byte"}, "analyzer must be"), ({"n_features": 1000}, "power of 2")],
)
def test_bad_parameters_are_refused(params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HashingTfidf(**params).fit(DOCS)


SCOPED_DOCS = ["great film, not good", "dull but fun", "not bad at all", "plain"]


def test_negated_ngrams_count_their_weight_and_keep_the_norm() -> None:
    analyzer = "word"  # no n-gram of these texts is both in and out of a scope

    def scoped(negated_weight: float) -> HashingTfidf:
        return HashingTfidf(
            analyzer, (1, 2), 1 << BITS, min_df=1, negated_weight=negated_weight
        ).fit(SCOPED_DOCS)

    flipped, dropped = scoped(-1.0), scoped(0.0)
    np.testing.assert_array_equal(flipped.idf_, dropped.idf_)
    for doc in SCOPED_DOCS:
        with_sign = flipped.transform([doc]).toarray()[0]
        without = dropped.transform([doc]).toarray()[0]
        # what the negation does not reach is the same; the norm is the text's
        np.testing.assert_allclose(without[with_sign > 0], with_sign[with_sign > 0])
        assert np.all(without[with_sign < 0] == 0)
        assert (with_sign < 0).any() == doc.startswith(("great", "not"))


def test_a_contrast_sets_aside_what_came_before_but() -> None:
    scoped = HashingTfidf("word", (1, 1), 1 << BITS, contrast_weight=0.25).fit(
        ["dull but fun", "fun", "dull"]
    )
    entries = scoped.weighted_rows(["dull but fun"])
    by_column = dict(
        zip(entries.columns.tolist(), entries.values.tolist(), strict=True)
    )
    dull = by_column[bucket_of("word", "dull")]
    fun = by_column[bucket_of("word", "fun")]
    idf = scoped.idf_
    ratio = idf[bucket_of("word", "dull")] / idf[bucket_of("word", "fun")]
    assert dull == pytest.approx(0.25 * fun * ratio, rel=1e-5)


def test_models_pickled_before_scopes_read_as_unscoped() -> None:
    old = HashingTfidf("word", (1, 2), 1 << 16).fit(DOCS)
    del old.negated_weight, old.contrast_weight  # what an old pickle lacks
    restored = pickle.loads(pickle.dumps(old))
    assert not restored.scoped
    fresh = HashingTfidf("word", (1, 2), 1 << 16).fit(DOCS)
    np.testing.assert_array_equal(
        restored.transform(DOCS).toarray(), fresh.transform(DOCS).toarray()
    )


def test_word_count_is_one_raw_column_of_word_tokens() -> None:
    texts = ["", "Not   bad at\tall.", "ça n'est pas mal", "🎬 superb film!!", "a_b 42"]
    block = WordCount().fit(texts)
    matrix = block.transform(texts)
    assert matrix.shape == (len(texts), 1)
    expected = [len(re.findall(r"(?u)\b\w+\b", t.lower())) for t in texts]
    assert matrix.toarray().ravel().tolist() == expected
    assert block.get_feature_names_out().tolist() == ["words"]

"""Text to features: n-gram hashing, negation scopes, the TF-IDF and lexicon blocks.

The bottom layer: it imports nothing else from the package. Models pickled
before the package had layers name ``sentiment.features.HashingTfidf`` and
``sentiment.features.LexiconScore``; the re-exports below keep them loading
(``tests/unit/test_legacy_model.py``).
"""

from sentiment.features.tfidf import HashingTfidf, LexiconScore

__all__ = ["HashingTfidf", "LexiconScore"]

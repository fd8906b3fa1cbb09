"""Text to features: n-gram hashing, negation scopes, the TF-IDF and lexicon blocks.

The bottom layer: it imports nothing else from the package. A stored model's pickle
names the import path of each class it was built from, so every path a class has
had keeps working here (``tests/unit/test_legacy_model.py``,
``tests/unit/features/test_lexicon.py``):

- ``sentiment.features.HashingTfidf`` and ``sentiment.features.LexiconScore``:
  models pickled before the package had layers; the re-exports below.
- ``sentiment.features.tfidf.LexiconScore``: models pickled before the lexicon
  block left ``tfidf.py`` for ``lexicon.py``. ``tfidf.py`` cannot import it back
  (``lexicon.py`` imports ``tfidf.py``: a cycle), so the name is bound here, which
  Python runs before any import of ``sentiment.features.tfidf`` returns.
"""

from sentiment.features import tfidf
from sentiment.features.lexicon import LexiconScore
from sentiment.features.tfidf import HashingTfidf

tfidf.LexiconScore = LexiconScore  # type: ignore[attr-defined]

__all__ = ["HashingTfidf", "LexiconScore"]

"""sentiment.features.lexicon: the lexicon block, and its pickles under both paths.

A stored model's pickle names each class by import path. Models fitted before
``LexiconScore`` left ``tfidf.py`` name ``sentiment.features.tfidf.LexiconScore``;
models fitted since name ``sentiment.features.lexicon.LexiconScore``. Both load.
"""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sentiment.features.lexicon import LexiconScore

PROJECT_DIR = Path(__file__).resolve().parents[3]
OLD_PATH = "sentiment.features.tfidf"
NEW_PATH = "sentiment.features.lexicon"
LEXICON = {"good": 2.0, "bad": -3.0, "wonderful": 2.7}
TEXTS = ["good", "a good film", "not bad at all", "bad but good", "", "wonderful"]
# Load a pickle from stdin in a new interpreter, which has imported nothing of
# the package: what a worker does with a model from the store.
LOAD_AND_SCORE = (
    "import json, pickle, sys\n"
    "block = pickle.loads(sys.stdin.buffer.read())\n"
    "print(type(block).__module__, type(block).__name__)\n"
    f"print(json.dumps(block.transform({TEXTS!r}).toarray().ravel().tolist()))\n"
)


class _NamedClasses(pickle.Unpickler):
    """An unpickler that records every ``(module, name)`` the pickle names."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))
        self.named: set[tuple[str, str]] = set()

    def find_class(self, module: str, name: str) -> Any:
        self.named.add((module, name))
        return super().find_class(module, name)


def classes_named(data: bytes) -> set[tuple[str, str]]:
    """The sentiment classes a pickle names."""
    unpickler = _NamedClasses(data)
    unpickler.load()
    return {(m, n) for m, n in unpickler.named if m.startswith("sentiment")}


def fitted() -> LexiconScore:
    return LexiconScore(LEXICON, -1.0, 0.3, weight=2.0).fit([])


def test_lexicon_score_adds_signed_valences_over_the_root_of_the_length() -> None:
    block = LexiconScore({"good": 2.0, "bad": -3.0}).fit([])
    texts = ["good", "a good film", "not bad at all", "bad but good", ""]
    entries = block.weighted_rows(texts)
    np.testing.assert_allclose(
        entries.values,
        [2 / 4, 2 / (4 * np.sqrt(3)), 3 / (4 * 2), (-3 + 2) / (4 * np.sqrt(3)), 0],
        rtol=1e-6,
    )
    assert entries.columns.tolist() == [0] * 5


def test_a_fitted_block_round_trips_under_its_new_path() -> None:
    block = fitted()
    data = pickle.dumps(block)
    assert classes_named(data) == {(NEW_PATH, "LexiconScore")}
    restored = pickle.loads(data)
    assert type(restored) is LexiconScore
    np.testing.assert_array_equal(
        restored.transform(TEXTS).toarray(), block.transform(TEXTS).toarray()
    )


def test_a_block_pickled_under_the_old_path_loads_in_a_new_interpreter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    block = fitted()
    with monkeypatch.context() as patch:
        # As tfidf.py's LexiconScore pickled: the pickler checks that the name
        # finds the class, so the name is bound here too, alias or not.
        patch.setattr(LexiconScore, "__module__", OLD_PATH)
        patch.setattr(sys.modules[OLD_PATH], "LexiconScore", LexiconScore, False)
        data = pickle.dumps(block)
    assert classes_named(data) == {(OLD_PATH, "LexiconScore")}
    out = subprocess.run(
        [sys.executable, "-c", LOAD_AND_SCORE],
        input=data,
        capture_output=True,
        check=True,
        cwd=PROJECT_DIR,
    ).stdout.decode()
    loaded_as, values = out.splitlines()
    assert loaded_as == f"{NEW_PATH} LexiconScore"
    np.testing.assert_allclose(
        json.loads(values), block.transform(TEXTS).toarray().ravel(), rtol=1e-6
    )

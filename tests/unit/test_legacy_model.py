"""A model pickled by the flat layout (``sentiment.features.*``) still loads and scores.

Every model in a user's store names the import paths of the classes it was built
from; ``tests/fixtures/legacy_model.joblib`` was saved before ``sentiment/`` became
subpackages (``tests/fixtures/make_legacy_model.py``), so a move that breaks a store
fails here.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import joblib
import numpy as np

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PICKLE = FIXTURES / "legacy_model.joblib"


def test_the_fixture_names_the_flat_layouts_module() -> None:
    pickled = zlib.decompress(PICKLE.read_bytes())
    # Protocol 4 pushes the module, then the class name, as short strings; the
    # second class reuses the memoised module string.
    assert b"\x12sentiment.features\x94\x8c\x0cHashingTfidf" in pickled
    assert b"\x0cLexiconScore" in pickled
    assert b"sentiment.features." not in pickled  # no submodule of the new layout


def test_a_model_pickled_before_the_move_loads_and_gives_the_same_answers() -> None:
    expected = json.loads((FIXTURES / "legacy_model.json").read_text())
    pipeline = joblib.load(PICKLE)
    assert [str(label) for label in pipeline.classes_] == expected["classes"]
    np.testing.assert_allclose(
        pipeline.predict_proba(expected["probes"]), expected["proba"], rtol=1e-6
    )

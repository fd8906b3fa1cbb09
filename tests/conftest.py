"""Session-wide test setup: an isolated BentoML home and one trained model.

``BENTOML_HOME`` is pointed at a fresh temp dir *before* anything imports
bentoml, so no test reads or writes the user's ``~/bentoml``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="bentoml-home-test-"))
os.environ["BENTOML_HOME"] = str(_SESSION_HOME)
os.environ.pop("SENTIMENT_MODEL_TAG", None)  # tests use the default tag
os.environ.pop("API_KEY", None)
os.environ.pop("SENTIMENT_API_KEY", None)

MODEL_NAME = "sentiment"  # the service's default tag is sentiment:latest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def bentoml_home() -> Path:
    """The isolated BentoML home of this test session."""
    return _SESSION_HOME


@pytest.fixture(scope="session")
def trained_model(bentoml_home: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Train the real pipeline on the shipped corpus once; return its tag."""
    import bentoml

    import train

    metrics_out = tmp_path_factory.mktemp("metrics") / "model_performance.json"
    assert train.main(["--metrics-out", str(metrics_out)]) == 0
    return str(bentoml.models.get(f"{MODEL_NAME}:latest").tag)


@pytest.fixture(scope="session")
def clear_reviews() -> list[tuple[str, str]]:
    """Reviews any sane sentiment model gets right, with their labels."""
    return [
        ("a wonderful, moving film with superb performances", "positive"),
        ("a dull, lifeless and boring mess", "negative"),
        ("one of the best films of the year, funny and touching", "positive"),
        ("the worst movie i have seen, tedious and stupid", "negative"),
    ]

"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.servers import bentoml_serve


@pytest.fixture(scope="session")
def served(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """`bentoml serve service:SentimentClassifier` on a free port: URL and log."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with bentoml_serve("service:SentimentClassifier", log) as url:
        yield url, log


@pytest.fixture(scope="session")
def server_url(served: tuple[str, Path]) -> str:
    """Base URL of the shared server."""
    return served[0]


@pytest.fixture(scope="session")
def server_log(served: tuple[str, Path]) -> Path:
    """What the shared server wrote (stdout and stderr)."""
    return served[1]

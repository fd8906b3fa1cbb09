"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.servers import bentoml_serve


@pytest.fixture(scope="session")
def server_url(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Base URL of `bentoml serve service:SentimentClassifier` on a free port."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with bentoml_serve("service:SentimentClassifier", log) as url:
        yield url

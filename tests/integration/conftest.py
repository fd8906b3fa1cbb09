"""One in-process ASGI app for all integration tests.

BentoML registers its Prometheus metrics when an app is built, so building a
second app in the same process fails with duplicated timeseries.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

import service


@pytest.fixture(scope="session")
def client(trained_model: str) -> Iterator[TestClient]:
    """A client on the service's ASGI app, with its lifespan (model loaded)."""
    with TestClient(service.SentimentClassifier.to_asgi()) as test_client:
        yield test_client

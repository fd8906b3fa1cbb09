"""One in-process ASGI app for all integration tests, and the helper to call it.

BentoML registers its Prometheus metrics when an app is built, so building a
second app in the same process fails with duplicated timeseries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

import service


@pytest.fixture(scope="session")
def client(trained_model: str) -> Iterator[TestClient]:
    """A client on the service's ASGI app, with its lifespan (model loaded)."""
    with TestClient(service.SentimentClassifier.to_asgi()) as test_client:
        yield test_client


def post_classify(
    client: TestClient,
    body: object,
    content_type: str = "application/json",
) -> httpx.Response:
    """POST ``body`` to /classify: bytes as they are, anything else as JSON."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/classify", content=content, headers={"content-type": content_type}
    )


def rules(response: httpx.Response) -> set[str]:
    """The rules a refusal names."""
    return {item["type"] for item in response.json()["detail"]}

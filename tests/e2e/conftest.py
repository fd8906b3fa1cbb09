"""Fixtures shared by the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.servers import bentoml_serve, free_port


@pytest.fixture(scope="session")
def grpc_port() -> int:
    """The shared server's gRPC port (the Open Inference Protocol over gRPC)."""
    return free_port()


@pytest.fixture(scope="session")
def served(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory, grpc_port: int
) -> Iterator[tuple[str, Path]]:
    """`bentoml serve service:SentimentClassifier` on a free port: URL and log."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {"SENTIMENT_GRPC_PORT": str(grpc_port)}
    with bentoml_serve("service:SentimentClassifier", log, env) as url:
        yield url, log


@pytest.fixture(scope="session")
def server_url(served: tuple[str, Path]) -> str:
    """Base URL of the shared server."""
    return served[0]


@pytest.fixture(scope="session")
def server_log(served: tuple[str, Path]) -> Path:
    """What the shared server wrote (stdout and stderr)."""
    return served[1]


@pytest.fixture(scope="session")
def grpc_target(served: tuple[str, Path], grpc_port: int) -> str:
    """``host:port`` of the shared server's gRPC side."""
    return f"127.0.0.1:{grpc_port}"

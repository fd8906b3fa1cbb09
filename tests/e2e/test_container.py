"""End-to-end: build the Docker image with `scripts/container.sh`, run it, call it.

Needs a Docker engine. Without one the tests skip with a loud reason, except in CI
(``CI`` set), where `.ci/run` provides the engine and a skip would hide a failure.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from devtools.servers import BIN_DIR, PROJECT_DIR, free_port, wait_ready

pytestmark = [pytest.mark.e2e, pytest.mark.container]
TEST_IMAGE = "sentiment-classifier-test"


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


def require_engine() -> None:
    try:
        docker("info", timeout=30)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        reason = (
            "NO DOCKER ENGINE: container tests cannot run. Start one with "
            f"scripts/base-image.sh (as root). Cause: {str(exc)[:300]}"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def image(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The image built by scripts/container.sh from the session's model."""
    require_engine()
    log = tmp_path_factory.mktemp("container") / "containerize.log"
    result = subprocess.run(
        [str(PROJECT_DIR / "scripts" / "container.sh")],
        env={
            **os.environ,
            "IMAGE_NAME": TEST_IMAGE,
            "BIN": str(BIN_DIR),
            "CONTAINERIZE_LOG": str(log),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:] + log.read_text()[-3000:]
    built = result.stdout.strip().splitlines()[-1]
    assert built.startswith(f"{TEST_IMAGE}:")
    assert docker(
        "image", "inspect", "-f", "{{.Id}}", f"{TEST_IMAGE}:latest"
    ) == docker("image", "inspect", "-f", "{{.Id}}", built)
    yield built
    docker("rmi", "-f", built, f"{TEST_IMAGE}:latest", check=False)
    docker("image", "prune", "-f", check=False)


@dataclass(frozen=True)
class Container:
    """A running container and where it answers."""

    name: str
    url: str


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    """Run the image with host networking on a free loopback port."""
    port = free_port()
    name = f"sentiment-test-{uuid.uuid4().hex[:8]}"
    docker(
        "run",
        "-d",
        "--rm",
        "--network",
        "host",
        "--name",
        name,
        image,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    running = Container(name=name, url=f"http://127.0.0.1:{port}")
    try:
        wait_ready(
            running.url,
            alive=lambda: bool(
                docker("ps", "-q", "--filter", f"name={name}", check=False)
            ),
            logs=lambda: docker("logs", "--tail", "40", name, check=False),
            timeout=180,
        )
        yield running
    finally:
        docker("rm", "-f", name, check=False)


def test_container_classifies_clear_reviews(
    container: Container, clear_reviews: list[tuple[str, str]]
) -> None:
    r = httpx.post(
        f"{container.url}/classify",
        json={"texts": [t for t, _ in clear_reviews]},
        timeout=60,
    )
    assert r.status_code == 200
    assert [item["label"] for item in r.json()] == [label for _, label in clear_reviews]


def test_container_rejects_bad_input(container: Container) -> None:
    r = httpx.post(f"{container.url}/classify", json={"texts": ["ab"]})
    assert r.status_code == 400
    assert r.json()["detail"][0]["type"] == "review_too_short"


def test_container_metrics_answer(container: Container) -> None:
    r = httpx.get(f"{container.url}/metrics")
    assert r.status_code == 200
    assert "bentoml_service_request_total" in r.text


def test_container_runs_as_non_root(container: Container, image: str) -> None:
    assert docker("exec", container.name, "id", "-u") != "0"
    assert docker("image", "inspect", "-f", "{{.Config.User}}", image) == "bentoml"

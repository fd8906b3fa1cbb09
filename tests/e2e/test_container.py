"""End-to-end: build the Docker image with `scripts/container.sh`, run it, call it.

Needs a Docker engine. Without one the tests skip with a loud reason, except in CI
(``CI`` set), where `.ci/run` provides the engine and a skip would hide a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.container import RunningContainer, docker, pod_spec, run_image
from devtools.loadtest_container import load_test_image
from devtools.servers import BIN_DIR, PROJECT_DIR
from devtools.tools import skip_or_fail

pytestmark = [pytest.mark.e2e, pytest.mark.container]
TEST_IMAGE = "sentiment-classifier-test"


def require_engine() -> None:
    try:
        docker("info", timeout=30)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        reason = (
            "NO DOCKER ENGINE: container tests cannot run. Start one with "
            f"scripts/base-image.sh (as root). Cause: {str(exc)[:300]}"
        )
        skip_or_fail(reason)


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


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[RunningContainer]:
    """The image running with host networking on a free loopback port."""
    with run_image(image) as running:
        yield running


def test_container_classifies_clear_reviews(
    container: RunningContainer, clear_reviews: list[tuple[str, str]]
) -> None:
    r = httpx.post(
        f"{container.url}/classify",
        json={"texts": [t for t, _ in clear_reviews]},
        timeout=60,
    )
    assert r.status_code == 200
    assert [item["label"] for item in r.json()] == [label for _, label in clear_reviews]


def test_container_serves_the_packed_model_and_the_page(
    container: RunningContainer,
) -> None:
    info = httpx.get(f"{container.url}/model-info", timeout=30).json()
    assert info["chosen_by"] == "packed" and info["production"] is None
    page = httpx.get(f"{container.url}/ui", timeout=30)
    assert page.status_code == 200 and "Movie-review sentiment" in page.text


def test_container_rejects_bad_input(container: RunningContainer) -> None:
    r = httpx.post(f"{container.url}/classify", json={"texts": ["ab"]})
    assert r.status_code == 400
    assert r.json()["detail"][0]["type"] == "review_too_short"


def test_container_metrics_answer(container: RunningContainer) -> None:
    r = httpx.get(f"{container.url}/metrics")
    assert r.status_code == 200
    assert "bentoml_service_request_total" in r.text


def test_container_runs_as_non_root(container: RunningContainer, image: str) -> None:
    assert docker("exec", container.name, "id", "-u") != "0"
    assert docker("image", "inspect", "-f", "{{.Config.User}}", image) == "bentoml"


LOAD_SECONDS = 20
LOAD_USERS = 32
MEMORY_MARGIN = 0.8


def test_image_under_load_as_the_manifest_runs_it(image: str, tmp_path: Path) -> None:
    """Locust on the image with the pod's limits and env: no failures, p99, memory."""
    code, summary = load_test_image(
        image, LOAD_USERS, LOAD_SECONDS, tmp_path, MEMORY_MARGIN
    )
    print(f"image under load: {summary}")
    limit = pod_spec().memory_limit
    assert summary["limits"]["memory_bytes"] == limit
    assert summary["requests"] > 100
    assert summary["failures"] == 0
    assert summary["locust_passed"], summary.get("locust_output_tail")
    assert 0 < summary["peak_memory_bytes"] < MEMORY_MARGIN * limit
    assert code == 0
    assert (tmp_path / "classify.html").is_file()

"""End-to-end: build the Docker image with `scripts/container.sh`, run it, call it.

Needs a Docker engine. Without one the tests skip with a loud reason, except in CI
(``CI`` set), where `.ci/run` provides the engine and a skip would hide a failure.
"""

from __future__ import annotations

import concurrent.futures
import csv
import hashlib
import io
import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.container import (
    RunningContainer,
    container_logs,
    docker,
    pod_spec,
    run_image,
    started_container,
)
from devtools.loadtest_container import load_test_image
from devtools.servers import BIN_DIR, PROJECT_DIR, free_port
from devtools.tools import skip_or_fail

pytestmark = [pytest.mark.e2e, pytest.mark.container]
TEST_IMAGE = "sentiment-classifier-test"
BASE_IMAGE = "python:3.11-slim"  # service.py's IMAGE and scripts/base-image.sh


def require_engine() -> None:
    """An engine that answers, and the base image the build starts from.

    Inside an unprivileged container dockerd may start and answer, yet build
    nothing (no mount namespaces): scripts/base-image.sh then has no base image
    either, which is what tells the two apart.
    """
    try:
        docker("info", timeout=30)
        docker("image", "inspect", BASE_IMAGE, timeout=30)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        reason = (
            f"NO DOCKER ENGINE OR NO {BASE_IMAGE} IMAGE: container tests cannot run. "
            "Start one and build the image with scripts/base-image.sh (as root; not "
            f"possible inside an unprivileged container). Cause: {str(exc)[:300]}"
        )
        skip_or_fail(reason)


SBOMS: dict[str, dict] = {}  # image -> the CycloneDX SBOM container.sh wrote


@pytest.fixture(scope="module")
def image(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The image built by scripts/container.sh from the session's model."""
    require_engine()
    work = tmp_path_factory.mktemp("container")
    log = work / "containerize.log"
    result = subprocess.run(
        [str(PROJECT_DIR / "scripts" / "container.sh")],
        env={
            **os.environ,
            "IMAGE_NAME": TEST_IMAGE,
            "BIN": str(BIN_DIR),
            "CONTAINERIZE_LOG": str(log),
            "SBOM_DIR": str(work / "sbom"),
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    built = log.read_text()[-3000:] if log.exists() else ""
    assert result.returncode == 0, result.stderr[-3000:] + built
    built = result.stdout.strip().splitlines()[-1]
    assert built.startswith(f"{TEST_IMAGE}:")
    assert docker(
        "image", "inspect", "-f", "{{.Id}}", f"{TEST_IMAGE}:latest"
    ) == docker("image", "inspect", "-f", "{{.Id}}", built)
    (sbom,) = (work / "sbom").glob("*.cdx.json")
    SBOMS[built] = json.loads(sbom.read_text())
    yield built
    docker("rmi", "-f", built, f"{TEST_IMAGE}:latest", check=False)
    docker("image", "prune", "-f", check=False)


API_KEY = secrets.token_hex(16)  # what the Secret would hold
TEAM_KEYS = {"team-a": secrets.token_hex(16), "team-b": secrets.token_hex(16)}
# The tenants Secret's file, as an operator writes it: digests, never the keys.
TENANTS_SECRET = {
    "sentiment-classifier-tenants": {
        "tenants.json": json.dumps(
            {
                "tenants": {
                    name: {"key_sha256": hashlib.sha256(key.encode()).hexdigest()}
                    for name, key in TEAM_KEYS.items()
                }
            }
        )
    }
}


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[RunningContainer]:
    """The image run as the manifest runs a pod: read-only root, uid 1034, no
    capabilities, no new privileges, its env and volumes, the key from the Secret.
    """
    with run_image(
        image, pod_spec(), secrets={"API_KEY": API_KEY}, secret_files=TENANTS_SECRET
    ) as running:
        yield running


JOBS_DEPLOYMENT = "sentiment-classifier-jobs"


@pytest.fixture(scope="module")
def jobs_container(image: str) -> Iterator[RunningContainer]:
    """The image run as the manifest runs the jobs pod (SENTIMENT_ROLE=jobs)."""
    spec = pod_spec(deployment_name=JOBS_DEPLOYMENT)
    with run_image(image, spec, secrets={"API_KEY": API_KEY}) as running:
        yield running


def keyed_client(container: RunningContainer) -> httpx.Client:
    """A client of the container that sends the API key."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    return httpx.Client(base_url=container.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def client(container: RunningContainer) -> Iterator[httpx.Client]:
    """A client of the online container."""
    with keyed_client(container) as http:
        yield http


@pytest.fixture(scope="module")
def jobs_client(jobs_container: RunningContainer) -> Iterator[httpx.Client]:
    """A client of the jobs container."""
    with keyed_client(jobs_container) as http:
        yield http


def test_the_container_runs_as_the_manifest_runs_a_pod(
    container: RunningContainer,
) -> None:
    config = json.loads(docker("inspect", "-f", "{{json .HostConfig}}", container.name))
    assert config["ReadonlyRootfs"] is True
    assert config["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in config["SecurityOpt"]
    assert docker("exec", container.name, "id", "-u") == "1034"
    assert set(config["Tmpfs"]) == set(pod_spec().writable)
    refused = subprocess.run(
        ["docker", "exec", container.name, "touch", "/home/bentoml/bento/x"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Read-only file system" in refused.stderr


def test_container_classifies_clear_reviews(
    client: httpx.Client, clear_reviews: list[tuple[str, str]]
) -> None:
    r = client.post("/classify", json={"texts": [t for t, _ in clear_reviews]})
    assert r.status_code == 200
    assert [item["label"] for item in r.json()] == [label for _, label in clear_reviews]


def test_container_wants_the_api_key(container: RunningContainer) -> None:
    r = httpx.post(f"{container.url}/classify", json={"texts": ["a fine film"]})
    assert r.status_code == 401
    job = httpx.post(
        f"{container.url}/classify_file/submit", files={"file": ("a.csv", b"text\n")}
    )
    assert job.status_code == 401


def test_each_tenant_key_works_from_the_read_only_secret_volume(
    container: RunningContainer,
) -> None:
    """Each team's key from the mounted tenants file is served as its tenant, the
    API key as ``default``; a key that is in no file is refused."""
    for key in (*TEAM_KEYS.values(), API_KEY):
        answer = httpx.post(
            f"{container.url}/classify",
            json={"texts": ["a wonderful, moving film"]},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == 200, answer.text
    stranger = httpx.post(
        f"{container.url}/classify",
        json={"texts": ["a fine film"]},
        headers={"Authorization": f"Bearer {secrets.token_hex(16)}"},
    )
    assert stranger.status_code == 401
    metrics = httpx.get(f"{container.url}/metrics").text
    for tenant in (*TEAM_KEYS, "default"):
        admitted = re.search(
            rf'sentiment_tenant_admitted_total{{tenant="{tenant}"}} (\S+)', metrics
        )
        assert admitted and float(admitted.group(1)) >= 1, tenant


def test_the_workers_share_tenants_admissions_on_the_manifests_volume(
    container: RunningContainer,
) -> None:
    """Two tenants' requests: each worker writes its admissions to the directory
    the workers share, on the volume the manifest mounts, so the exchange that
    holds the weights across workers works in the read-only image (the weighing
    itself: tests/e2e/test_shapes.py)."""
    keys = list(TEAM_KEYS.values())

    def send(i: int) -> int:  # a new connection each: the kernel spreads them
        headers = {"Authorization": f"Bearer {keys[i % 2]}"}
        body = {"texts": ["a wonderful, moving film"]}
        url = f"{container.url}/classify"
        return httpx.post(url, json=body, headers=headers, timeout=30).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        assert set(pool.map(send, range(400))) == {200}
    shared = '"$BENTOML_HOME"/prometheus_multiproc_dir'
    listing = f'for f in {shared}/tenant-shares.*; do echo "$f $(cat "$f")"; done'
    records: dict[str, dict[str, Any]] = {}
    for line in docker("exec", container.name, "sh", "-c", listing).splitlines():
        path, text = line.split(" ", 1)
        records[path.rsplit("/", 1)[1]] = json.loads(text)
    print(records)
    assert len(records) == 2, "one file per worker, none left half-written"
    for name, record in records.items():
        assert re.fullmatch(r"tenant-shares\.\d+\.\d+\.json", name)
        # team-a, team-b and default (the API key), in the file's order
        assert len(record["admitted"]) == 3, record
        assert sorted(record["admitted"])[1] > 0, "both teams admitted by each worker"
        assert time.time() - record["at"] < 600


def test_container_explains_and_speaks_v2(client: httpx.Client) -> None:
    explained = client.post("/explain", json={"texts": ["a wonderful, moving film"]})
    assert explained.status_code == 200, explained.text
    assert explained.json()[0]["label"] == "positive"
    infer = client.post(
        "/v2/models/sentiment/infer",
        json={
            "inputs": [
                {
                    "name": "text",
                    "shape": [1],
                    "datatype": "BYTES",
                    "data": ["a dull, lifeless and boring mess"],
                }
            ]
        },
    )
    assert infer.status_code == 200, infer.text
    outputs = {o["name"]: o["data"] for o in infer.json()["outputs"]}
    assert outputs["label"] == ["negative"]


def test_container_answers_grpc_infer(container: RunningContainer) -> None:
    """The Open Inference Protocol over gRPC, from the read-only, non-root image."""
    import grpc

    from sentiment.rpc.proto import open_inference_grpc_pb2 as pb
    from sentiment.rpc.proto import open_inference_grpc_pb2_grpc as pb_grpc

    request = pb.ModelInferRequest(model_name="sentiment")
    tensor = request.inputs.add(name="text", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(b"a dull, lifeless and boring mess")
    key = (("authorization", f"Bearer {API_KEY}"),)
    with grpc.insecure_channel(container.grpc_target) as channel:
        answer = pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(
            request, metadata=key, timeout=60
        )
    assert answer.outputs[0].name == "label"
    assert answer.raw_output_contents[0][4:] == b"negative"  # after its length


def test_container_serves_the_packed_model_and_the_page(
    container: RunningContainer,
) -> None:
    info = httpx.get(f"{container.url}/model-info", timeout=30).json()
    assert info["chosen_by"] == "packed" and info["production"] is None
    page = httpx.get(f"{container.url}/ui", timeout=30)
    assert page.status_code == 200 and "Movie-review sentiment" in page.text


def test_a_file_job_runs_in_the_image(
    jobs_container: RunningContainer, jobs_client: httpx.Client, client: httpx.Client
) -> None:
    """Submitted, polled and its scored CSV downloaded, on the read-only jobs pod."""
    reviews = b'text\n"a wonderful, moving film"\nab\n"a dull, lifeless mess"\n'
    misdirected = client.post(
        "/classify_file/submit", files={"file": ("reviews.csv", reviews)}
    )
    assert misdirected.status_code == 421, "the online pod sends jobs elsewhere"
    submitted = jobs_client.post(
        "/classify_file/submit", files={"file": ("reviews.csv", reviews)}
    )
    assert submitted.status_code == 200, submitted.text
    task = submitted.json()["task_id"]
    status: dict = {}
    for _ in range(120):
        answer = jobs_client.get("/classify_file/status", params={"task_id": task})
        status = answer.json()
        if status["status"] != "in_progress":
            break
        time.sleep(0.5)
    assert status["status"] == "completed", status
    assert (status["rows"], status["scored"], status["rejected"]) == (3, 2, 1)
    result = jobs_client.get("/classify_file/get", params={"task_id": task})
    assert result.status_code == 200
    assert result.headers["content-type"].startswith("text/csv")
    scored = list(csv.DictReader(io.StringIO(result.text)))
    assert [row["label"] for row in scored] == ["positive", "", "negative"]
    assert scored[1]["rejected"] == "review_too_short"
    home = pod_spec(deployment_name=JOBS_DEPLOYMENT).env["BENTOML_HOME"]
    written = docker("exec", jobs_container.name, "ls", home, f"{home}/sentiment-jobs")
    assert "task_result.db" in written and f"{task}.json" in written


def test_container_rejects_bad_input(client: httpx.Client) -> None:
    r = client.post("/classify", json={"texts": ["ab"]})
    assert r.status_code == 400
    assert r.json()["detail"][0]["type"] == "review_too_short"


def test_container_metrics_answer(container: RunningContainer) -> None:
    r = httpx.get(f"{container.url}/metrics")
    assert r.status_code == 200
    assert "bentoml_service_request_total" in r.text


def test_the_image_user_is_not_root(image: str) -> None:
    assert docker("image", "inspect", "-f", "{{.Config.User}}", image) == "bentoml"


def test_a_plain_read_only_run_serves_from_tmpdir_and_says_so_once(
    image: str,
) -> None:
    """``docker run --read-only --tmpfs /tmp IMAGE serve`` as people run it: no
    BENTOML_HOME volume, so the image's own home cannot be written. It serves,
    its state under $TMPDIR, with one warning line naming BENTOML_HOME.
    """
    name = f"sentiment-plain-{secrets.token_hex(4)}"
    options = ["--read-only", "--tmpfs", "/tmp"]
    with started_container(name, free_port(), image, options, 180) as running:
        r = httpx.post(f"{running.url}/classify", json={"texts": ["a fine film"]})
        assert r.status_code == 200, r.text
        logs = container_logs(name, lines=400)
    assert "Traceback" not in logs, logs
    warnings = [line for line in logs.splitlines() if "BENTOML_HOME" in line]
    assert len(warnings) == 1, logs
    assert "/tmp/bentoml" in warnings[0] and "not writable" in warnings[0]


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


def test_the_image_comes_with_an_sbom_of_its_packages(image: str) -> None:
    """CycloneDX, every package of the serving lock, each with its hashes."""
    sbom = SBOMS[image]
    assert sbom["bomFormat"] == "CycloneDX"
    components = {c["name"].lower(): c for c in sbom["components"]}
    lock = (PROJECT_DIR / "requirements" / "serve.txt").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", lock, flags=re.M))
    assert {name.lower() for name in pins} == set(components)
    for name in ("pandas", "pyarrow", "bentoml", "scikit-learn"):
        component = components[name]
        assert component["purl"] == f"pkg:pypi/{name}@{pins[name]}"
        hashes = [h for ref in component["externalReferences"] for h in ref["hashes"]]
        assert hashes, f"{name} has no hashes in the SBOM"

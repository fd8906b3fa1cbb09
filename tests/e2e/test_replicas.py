"""Several real replicas behind a real HAProxy, routed like the manifest's Service and
Ingress: two online replicas (round-robin) and one jobs replica (``/classify_file*``).

Each replica is its own `bentoml serve` with its own BENTOML_HOME (task store, job
records) and port, as pods are. Needs Debian's ``haproxy``; without it the tests skip
with a loud reason, except in CI (``CI`` set), where `.ci/run` installs it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from devtools.haproxy import haproxy
from devtools.locust import locust_totals, run_locust
from devtools.prometheus import sample_sum
from devtools.servers import (
    free_port,
    isolated_home,
    ready_process,
    serve_command,
    stop,
)
from devtools.tools import require

pytestmark = pytest.mark.e2e
SERVICE = "service:SentimentClassifier"
LOCUST_USERS = 16
LOCUST_SECONDS = 24
STOP_AFTER_S = 8  # into the Locust run: one online replica gets SIGTERM
JOB_POLLS = 20


@dataclass
class Replica:
    """One `bentoml serve` of the deployment and the home it keeps its state in."""

    url: str
    home: Path
    process: subprocess.Popen[bytes]
    grpc_target: str = ""


@dataclass
class Deployment:
    """The balancer's URL and the replicas behind it."""

    url: str
    online: list[Replica]
    jobs: Replica
    grpc_target: str = ""  # the balancer's gRPC side (proto h2)


def start_replica(stack: ExitStack, work: Path, name: str, role: str) -> Replica:
    """Start one replica with ``SENTIMENT_ROLE=role`` on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    home = isolated_home(work)
    env = {
        **os.environ,
        "BENTOML_HOME": str(home),
        "SENTIMENT_ROLE": role,
        "SENTIMENT_JOBS_URL": "http://sentiment-classifier-jobs",
        # Three servers share this machine's cores: one worker each.
        "SENTIMENT_WORKERS": "1",
        # gRPC on the online replicas, as the manifest has it (a free port here).
        "SENTIMENT_GRPC_PORT": str(free_port() if role == "online" else 0),
    }
    process = stack.enter_context(
        ready_process(serve_command(SERVICE, port), url, work / f"{name}.log", env)
    )
    grpc_target = f"127.0.0.1:{env['SENTIMENT_GRPC_PORT']}"
    return Replica(url, home, process, grpc_target if role == "online" else "")


@pytest.fixture(scope="module")
def deployment(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    require("haproxy")
    work = tmp_path_factory.mktemp("replicas")
    with ExitStack() as stack:
        online = [start_replica(stack, work, f"online{i}", "online") for i in range(2)]
        jobs = start_replica(stack, work, "jobs", "jobs")
        grpc_port = free_port()
        url = stack.enter_context(
            haproxy(
                [r.url for r in online],
                jobs.url,
                work,
                [r.grpc_target for r in online],
                grpc_port,
            )
        )
        yield Deployment(url, online, jobs, f"127.0.0.1:{grpc_port}")


def requests_served(replica: Replica) -> int:
    """/classify requests a replica answered, from its /metrics."""
    text = httpx.get(f"{replica.url}/metrics", timeout=10).text
    counts = re.findall(
        r'^bentoml_service_request_total\{[^}]*endpoint="/classify"[^}]*\} (\S+)',
        text,
        flags=re.M,
    )
    return int(sum(float(c) for c in counts))


def test_each_role_refuses_the_others_routes(deployment: Deployment) -> None:
    online = httpx.get(
        f"{deployment.online[0].url}/classify_file/status", params={"task_id": "x"}
    )
    assert online.status_code == 421
    assert "sentiment-classifier-jobs" in online.json()["detail"][0]["msg"]
    jobs = httpx.post(
        f"{deployment.jobs.url}/classify", json={"texts": ["a fine film"]}
    )
    assert jobs.status_code == 421


def grpc_calls_served(replica: Replica) -> float:
    """gRPC ModelInfer calls a replica answered OK, from its /metrics."""
    text = httpx.get(f"{replica.url}/metrics", timeout=10).text
    return sample_sum(
        text,
        "sentiment_grpc_requests_total",
        method="/inference.GRPCInferenceService/ModelInfer",
        code="OK",
    )


def balanced_ready(stub: Any) -> bool:
    """Whether two calls in a row through the balancer get an answer."""
    import grpc

    from sentiment.rpc.proto import open_inference_grpc_pb2 as pb

    try:
        return all(stub.ServerReady(pb.ServerReadyRequest()).ready for _ in range(2))
    except grpc.RpcError:
        return False


def test_grpc_through_the_balancer_reaches_every_online_replica(
    deployment: Deployment,
) -> None:
    """HAProxy speaks HTTP/2 both ways (proto h2): calls on one channel, balanced."""
    import grpc

    from sentiment.rpc.proto import open_inference_grpc_pb2 as pb
    from sentiment.rpc.proto import open_inference_grpc_pb2_grpc as pb_grpc

    request = pb.ModelInferRequest(model_name="sentiment")
    tensor = request.inputs.add(name="text", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(b"a wonderful, moving film")
    with grpc.insecure_channel(deployment.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        deadline = time.monotonic() + 15  # until its checks have seen both up
        while not balanced_ready(stub) and time.monotonic() < deadline:
            time.sleep(0.5)
        before = [grpc_calls_served(r) for r in deployment.online]
        for _ in range(20):
            answer = stub.ModelInfer(request, timeout=30)
            assert answer.raw_output_contents[0][4:] == b"positive"
    after = [grpc_calls_served(r) for r in deployment.online]
    served = [a - b for a, b in zip(after, before, strict=True)]
    assert sum(served) == 20 and all(n > 0 for n in served), served


def test_a_job_through_the_balancer_is_polled_and_fetched(
    deployment: Deployment,
) -> None:
    """The invariant: submitted through the front, polled and fetched through it.

    A new connection per request, as clients behind a recycling balancer get.
    """
    reviews = b'text\n"a wonderful, moving film"\n"a dull, lifeless mess"\n'
    submitted = httpx.post(
        f"{deployment.url}/classify_file/submit",
        files={"file": ("reviews.csv", reviews)},
        timeout=60,
    )
    assert submitted.status_code == 200, submitted.text
    task = submitted.json()["task_id"]
    answers = []
    for _ in range(JOB_POLLS):
        status = httpx.get(
            f"{deployment.url}/classify_file/status", params={"task_id": task}
        )
        answers.append(status.status_code)
        time.sleep(0.1)
    assert answers == [200] * JOB_POLLS
    assert status.json()["status"] == "completed", status.json()
    result = httpx.get(f"{deployment.url}/classify_file/get", params={"task_id": task})
    assert result.status_code == 200
    labels = [row["label"] for row in csv.DictReader(io.StringIO(result.text))]
    assert labels == ["positive", "negative"]
    records = deployment.jobs.home / "sentiment-jobs"
    assert (records / f"{task}.json").is_file()
    assert not any((r.home / "sentiment-jobs").exists() for r in deployment.online), (
        "no online replica ran a job"
    )


def test_locust_through_the_balancer_loses_nothing_when_a_replica_stops(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Round-robin under load; one online replica SIGTERMed mid-run; 0 failures."""
    outcome: dict[str, subprocess.CompletedProcess[str]] = {}
    prefix = tmp_path / "replicas"

    def load() -> None:
        outcome["locust"] = run_locust(
            deployment.url,
            LOCUST_USERS,
            LOCUST_SECONDS,
            "--stop-timeout",
            "10",
            "--csv",
            str(prefix),
            env={
                "LOCUST_P95_MS": "0",
                "LOCUST_P99_MS": "0",
                "LOCUST_MAX_FAILURE_RATIO": "0",
            },
        )

    runner = threading.Thread(target=load)
    runner.start()
    time.sleep(STOP_AFTER_S)
    stopped, survivor = deployment.online
    served_before_stop = requests_served(stopped)
    workers = psutil.Process(stopped.process.pid).children(recursive=True)
    exit_code = stop(stopped.process)
    runner.join()
    result = outcome["locust"]
    totals = locust_totals(prefix)
    print(f"through the balancer: {totals}, stopped replica exit {exit_code}")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert totals["failures"] == 0
    assert totals["requests"] > 100
    assert served_before_stop > 0, "round-robin sent the stopped replica nothing"
    assert requests_served(survivor) > 0
    assert exit_code == 0, "graceful shutdown"
    assert workers, "the arbiter had workers"
    assert not [w.pid for w in workers if w.is_running()], "its workers are gone"

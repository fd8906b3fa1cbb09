"""A real Prometheus scraping a real `bentoml serve`: every docs query, every
dashboard panel and every alerting rule is evaluated, not just written down.

Needs Debian's ``prometheus`` package (``scripts/system-deps.sh`` installs it);
without it the tests skip naming the install, except under ``CI=1``, where they fail.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from devtools.corpus import corpus_reviews
from devtools.servers import PROJECT_DIR, free_port, stop
from devtools.tools import require
from devtools.wrk import WrkMissing, run_wrk, write_bodies

pytestmark = pytest.mark.e2e
RULES = PROJECT_DIR / "deploy" / "prometheus-rules.yaml"
SCALED_OBJECT = PROJECT_DIR / "deploy" / "keda-scaledobject.yaml"
OVERLOAD_FACTOR = 4  # connections per request a server admits at once
OVERLOAD_SECONDS = 10
DASHBOARD = PROJECT_DIR / "deploy" / "grafana-dashboard.json"


def readme_queries() -> list[str]:
    """Every PromQL line of the docs' ```promql blocks (README.md and docs/)."""
    pages = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
    text = "\n".join(page.read_text() for page in pages)
    blocks = re.findall(r"```promql\n(.*?)```", text, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def dashboard_queries() -> list[str]:
    """Every panel target's PromQL in the Grafana dashboard."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


@pytest.fixture(scope="module")
def prometheus(
    server_url: str, grpc_target: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Prometheus on a free loopback port, scraping the test server every second."""
    (binary,) = require("prometheus")
    work = tmp_path_factory.mktemp("prometheus")
    target = server_url.removeprefix("http://")
    config = work / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: ['{RULES}']\n"
        "scrape_configs:\n"
        f"  - job_name: sentiment\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    url = f"http://127.0.0.1:{free_port()}"
    log = (work / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (work / "prometheus.log").read_text()
            time.sleep(0.5)
        send_traffic(server_url, grpc_target)
        yield url
    finally:
        stop(process)


def send_traffic(server_url: str, grpc_target: str, seconds: float = 6.0) -> None:
    """Good and bad requests spread over a few scrapes, over HTTP and gRPC."""
    import grpc

    from sentiment.rpc.proto import open_inference_grpc_pb2 as pb
    from sentiment.rpc.proto import open_inference_grpc_pb2_grpc as pb_grpc

    infer = pb.ModelInferRequest(model_name="sentiment")
    infer.inputs.add(
        name="text", datatype="BYTES", shape=[1]
    ).contents.bytes_contents.append(b"a wonderful film")
    deadline = time.monotonic() + seconds
    with (
        httpx.Client(timeout=30) as client,
        grpc.insecure_channel(grpc_target) as channel,
    ):
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        while time.monotonic() < deadline:
            client.post(f"{server_url}/classify", json={"texts": ["a wonderful film"]})
            client.post(f"{server_url}/classify", json={"texts": ["a dull mess", "ok"]})
            client.post(f"{server_url}/classify", json={"texts": ["ab"]})
            stub.ModelInfer(infer, timeout=30)
            time.sleep(0.05)


def query(prometheus: str, promql: str, wait_s: float = 30) -> list[dict]:
    """Evaluate ``promql`` until it returns data (or ``wait_s`` passes)."""
    deadline = time.monotonic() + wait_s
    while True:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": promql})
        body = answer.json()
        assert body["status"] == "success", f"{promql}: {body}"
        if body["data"]["result"] or time.monotonic() > deadline:
            return list(body["data"]["result"])
        time.sleep(1)


def test_the_readme_has_queries() -> None:
    assert len(readme_queries()) >= 7


@pytest.mark.parametrize("promql", readme_queries())
def test_every_readme_query_returns_data(prometheus: str, promql: str) -> None:
    assert query(prometheus, promql), f"no data for: {promql}"


@pytest.mark.parametrize("promql", dashboard_queries())
def test_every_dashboard_panel_returns_data(prometheus: str, promql: str) -> None:
    assert query(prometheus, promql), f"no data for: {promql}"


def test_dashboard_names_only_exported_metrics(server_url: str) -> None:
    exported = httpx.get(f"{server_url}/metrics").text
    names = set(re.findall(r"^([a-z_]+)", exported, flags=re.M))
    for promql in dashboard_queries():
        for metric in re.findall(r"\b((?:bentoml|sentiment)_[a-z_]+)", promql):
            assert metric in names, f"{metric} is not exported"


def test_alerting_rules_load_and_evaluate(prometheus: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        groups = httpx.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if (
            all(rule.get("health") == "ok" for rule in rules)
            or time.monotonic() > deadline
        ):
            break
        time.sleep(1)
    assert {rule["name"] for rule in rules} == {
        "SentimentP99OverBudget",
        "SentimentShedRateHigh",
        "SentimentQueueingDelayHigh",
        "SentimentOverloadHeld",
        "SentimentNoPredictions",
        "SentimentPositiveShareOutOfBand",
        "SentimentModelSwapRefused",
        "SentimentShadowDisagreementHigh",
        "SentimentTenantStarved",
        "SentimentGrpcP99OverBudget",
        "SentimentGrpcServerErrors",
    }
    assert all(rule["health"] == "ok" for rule in rules), rules
    firing = {rule["name"] for rule in rules if rule["state"] != "inactive"}
    assert "SentimentNoPredictions" not in firing


def scaling_trigger() -> tuple[str, float]:
    """The KEDA ScaledObject's PromQL and its per-replica threshold."""
    scaled = yaml.safe_load(SCALED_OBJECT.read_text())
    (trigger,) = scaled["spec"]["triggers"]
    return trigger["metadata"]["query"], float(trigger["metadata"]["threshold"])


def scalar(prometheus: str, promql: str) -> float:
    """The query's one value now (0 for no data)."""
    result = query(prometheus, promql, wait_s=0)
    return float(result[0]["value"][1]) if result else 0.0


def wait_for(
    prometheus: str, promql: str, done: Callable[[float], bool], timeout: float
) -> float:
    """Evaluate ``promql`` each second until ``done(value)``; the last value."""
    deadline = time.monotonic() + timeout
    value = scalar(prometheus, promql)
    while not done(value) and time.monotonic() < deadline:
        time.sleep(1)
        value = scalar(prometheus, promql)
    return value


def test_the_autoscaling_query_rises_under_overload_and_falls_when_idle(
    prometheus: str, server_url: str, tmp_path: Path
) -> None:
    """KEDA's query, in Prometheus: over its threshold at 4x the admission limit.

    The test server is one replica: the query's value is the demand KEDA divides
    by the replica count, so one replica over the threshold means scale out.
    """
    require("wrk")
    promql, threshold = scaling_trigger()
    limit = scalar(prometheus, "sum(sentiment_admission_limit)")
    assert limit > 0, "the server exports its admission limit"
    bodies = write_bodies(list(corpus_reviews()), 1, tmp_path / "bodies.txt")
    connections = int(OVERLOAD_FACTOR * limit)
    outcome: dict[str, object] = {}

    def overload() -> None:
        try:
            outcome["wrk"] = run_wrk(server_url, bodies, connections, OVERLOAD_SECONDS)
        except (WrkMissing, RuntimeError) as error:
            outcome["error"] = error

    load = threading.Thread(target=overload)
    load.start()
    try:
        busy = wait_for(prometheus, promql, lambda v: v > threshold, OVERLOAD_SECONDS)
    finally:
        load.join()
    assert "error" not in outcome, outcome
    idle = wait_for(prometheus, promql, lambda v: v < threshold, 30)
    print(f"{promql}: {busy:.0f} at {connections} connections, {idle:.0f} idle")
    assert busy > threshold, f"{promql} = {busy} under {connections} connections"
    assert idle < threshold
    assert idle == 0, "nothing in flight or queued once the load is gone"

"""End-to-end: a real `bentoml serve` process, real HTTP, and a built bento."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from modulefinder import ModuleFinder
from pathlib import Path

import bentoml
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.servers import BIN_DIR, PROJECT_DIR, bentoml_serve

pytestmark = pytest.mark.e2e


def test_sync_client_classifies(
    server_url: str, clear_reviews: list[tuple[str, str]]
) -> None:
    with bentoml.SyncHTTPClient(server_url) as client:
        result = client.classify(texts=[text for text, _ in clear_reviews])
    assert [item["label"] for item in result] == [label for _, label in clear_reviews]


def test_raw_http_classifies_and_rejects(server_url: str) -> None:
    good = httpx.post(
        f"{server_url}/classify", json={"texts": ["a wonderful, moving film"]}
    )
    assert good.status_code == 200
    assert good.json()[0]["label"] == "positive"
    bad = httpx.post(f"{server_url}/classify", json={"texts": ["12345"]})
    assert bad.status_code == 400
    assert bad.json()["detail"][0]["type"] == "review_is_number"
    empty = httpx.post(f"{server_url}/classify", json={"texts": []})
    assert empty.status_code == 400


def test_a_clients_mistake_is_not_logged_as_the_servers(
    server_url: str, server_log: Path
) -> None:
    """A 4xx on a model route is an access-log matter, never an ERROR or traceback."""
    before = len(server_log.read_bytes())
    mistakes = [
        ("/classify", b'{"texts": ["meh"]}'),
        ("/classify", b'{"texts": ['),
        ("/classify", b'{"texts": "not a list"}'),
        ("/explain", b'{"texts": ["a fine film"], "top": 0}'),
        ("/v2/models/sentiment/infer", b'{"inputs": []}'),
        (
            "/v2/models/sentiment/infer",
            b'{"inputs": [{"name": "text", "shape": [1], '
            b'"datatype": "BYTES", "data": ["77"]}]}',
        ),
    ]
    for path, body in mistakes:
        headers = {"content-type": "application/json"}
        answer = httpx.post(f"{server_url}{path}", content=body, headers=headers)
        assert answer.status_code == 400, (path, answer.text)
    assert httpx.post(
        f"{server_url}/classify", json={"texts": ["a fine film"]}
    ).is_success
    logged = server_log.read_bytes()[before:].decode(errors="replace")
    assert "ERROR" not in logged and "Traceback" not in logged, logged[-3000:]


def test_64_concurrent_requests_are_correct_and_in_order(
    server_url: str, clear_reviews: list[tuple[str, str]]
) -> None:
    texts = [text for text, _ in clear_reviews]
    labels = [label for _, label in clear_reviews]

    def call(i: int) -> bool:
        order = [(i + k) % len(texts) for k in range(1 + i % len(texts))]
        with httpx.Client(timeout=60) as client:
            r = client.post(
                f"{server_url}/classify", json={"texts": [texts[k] for k in order]}
            )
        assert r.status_code == 200, r.text
        return [item["label"] for item in r.json()] == [labels[k] for k in order]

    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(call, range(256)))
    assert all(results)


def batch_size_buckets(metrics_text: str) -> dict[float, float]:
    """Cumulative classify batch-size histogram buckets, summed over workers."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        if family.name != "bentoml_service_adaptive_batch_size":
            continue
        for sample in family.samples:
            if (
                sample.name.endswith("_bucket")
                and sample.labels["method_name"] == "classify"
            ):
                le = float(sample.labels["le"])
                buckets[le] = buckets.get(le, 0.0) + sample.value
    return buckets


def test_metrics_show_adaptive_batching(server_url: str) -> None:
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(
            pool.map(
                lambda _: httpx.post(
                    f"{server_url}/classify", json={"texts": ["fine film"]}, timeout=60
                ),
                range(200),
            )
        )
    metrics = httpx.get(f"{server_url}/metrics").text
    buckets = batch_size_buckets(metrics)
    assert buckets, "adaptive batch-size histogram missing from /metrics"
    assert buckets[float("inf")] >= 1
    merged = buckets[float("inf")] - buckets[1.0]
    assert merged > 0, "no batch ever held more than one request"
    assert "bentoml_service_request_total" in metrics
    assert "bentoml_service_request_duration_seconds" in metrics


def classify_series(server_url: str) -> dict[str, float]:
    """bentoml_service_request_* samples for /classify 200s, and in progress."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(
        httpx.get(f"{server_url}/metrics").text
    ):
        for sample in family.samples:
            labels = sample.labels
            if labels.get("endpoint") != "/classify":
                continue
            if labels.get("http_response_code") in ("200", None):
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


def test_each_answer_is_counted_tagged_and_timed(server_url: str) -> None:
    before = classify_series(server_url)
    tag = httpx.get(f"{server_url}/model-info").json()["tag"]
    for i in range(20):
        r = httpx.post(
            f"{server_url}/classify",
            json={"texts": ["a wonderful, moving film", "a dull and lifeless mess"]},
            headers={"X-Request-ID": f"counted-{i}"},
        )
        assert r.status_code == 200 and len(r.json()) == 2
        assert r.headers["x-request-id"] == f"counted-{i}"
        assert r.headers["x-model-version"] == tag
    after = classify_series(server_url)
    for name in (
        "bentoml_service_request_total",
        "bentoml_service_request_duration_seconds_count",
    ):
        assert after[name] - before.get(name, 0.0) == 20, name
    assert after["bentoml_service_request_in_progress"] == 0


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/", "/docs.json"])
def test_builtin_endpoints(server_url: str, path: str) -> None:
    assert httpx.get(f"{server_url}{path}").status_code == 200


@pytest.fixture(scope="module")
def built_bento(trained_model: str) -> str:
    """`bentoml build` of this project; returns the bento tag."""
    result = subprocess.run(
        [str(BIN_DIR / "bentoml"), "build", "--output", "tag"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1].removeprefix("__tag__:")


def local_modules_imported_by(entry: Path) -> set[Path]:
    """Project files that ``entry`` imports, directly or through each other."""
    finder = ModuleFinder(path=[str(PROJECT_DIR)])
    finder.run_script(str(entry))
    files = {
        Path(module.__file__).resolve()
        for module in finder.modules.values()
        if module.__file__
        and Path(module.__file__).resolve().is_relative_to(PROJECT_DIR)
    }
    return {path.relative_to(PROJECT_DIR) for path in files}


def test_local_module_finder_sees_the_package() -> None:
    modules = local_modules_imported_by(PROJECT_DIR / "service.py")
    assert Path("sentiment/model/artifact.py") in modules
    assert Path("sentiment/http/edge.py") in modules


def test_built_bento_has_every_module_the_service_imports(built_bento: str) -> None:
    source = Path(bentoml.get(built_bento).path) / "src"
    needed = local_modules_imported_by(PROJECT_DIR / "service.py")
    missing = sorted(str(path) for path in needed if not (source / path).is_file())
    assert missing == [], f"bentofile.yaml's include misses {missing}"


def test_built_bento_contains_model_and_serves(
    built_bento: str, trained_model: str, tmp_path: Path
) -> None:
    bento = bentoml.get(built_bento)
    assert [str(m.tag) for m in bento.info.all_models] == [trained_model]
    assert not (Path(bento.path) / "src" / "tests").exists()
    requirements = (
        Path(bento.path) / "env" / "python" / "requirements.txt"
    ).read_text()
    assert "bentoml==1.4.40" in requirements
    assert "pytest" not in requirements and "locust" not in requirements
    with bentoml_serve(built_bento, tmp_path / "bento.log") as url:
        r = httpx.post(f"{url}/classify", json={"texts": ["a dull, boring mess"]})
    assert r.status_code == 200
    assert r.json()[0]["label"] == "negative"

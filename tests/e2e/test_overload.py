"""Overload control against a real `bentoml serve`: open loop, spike, refusals."""

from __future__ import annotations

import concurrent.futures
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from devtools.locust import run_locust
from devtools.openloop import run_open_loop
from devtools.prometheus import sample_sum
from devtools.servers import PROJECT_DIR, bentoml_serve

pytestmark = pytest.mark.e2e
# Small on purpose: a load this machine's test run can make is far over capacity.
TIGHT = {
    "SENTIMENT_MAX_IN_FLIGHT": "2",
    "SENTIMENT_MAX_QUEUE_WAIT_MS": "20",
    "SENTIMENT_REFUSE_AFTER_MS": "100",
    "SENTIMENT_MAX_QUEUE": "256",
}
OVERLOADPY = PROJECT_DIR / "loadtests" / "overload.py"


@pytest.fixture(scope="module")
def tight_server(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A server whose admission limits are tiny, so a modest load overloads it."""
    log = tmp_path_factory.mktemp("tight") / "serve.log"
    with bentoml_serve("service:SentimentClassifier", log, env=TIGHT) as url:
        yield url


def test_open_loop_overload_serves_some_refuses_the_rest_cleanly(
    tight_server: str,
) -> None:
    # 16 reviews a body, so 2,000 bodies/s is past 2 slots per worker however fast
    # single reviews get.
    bodies = [
        orjson.dumps({"texts": [text] * 16})
        for text in ("a fine, moving film", "a dull mess")
    ]
    result = run_open_loop(f"{tight_server}/classify", bodies, rate=2000, seconds=4)
    print(f"open loop on the tight server: {result}")
    assert result["ok"] > 0 and result["refused"] > 0
    assert set(result["statuses"]) <= {200, 503}, result["statuses"]
    assert result["socket_errors"] == 0 and result["unanswered"] == 0
    metrics = httpx.get(f"{tight_server}/metrics").text
    refusals = sample_sum(metrics, "sentiment_admission_refusals_total")
    assert refusals >= result["refused"]
    rejected = "sentiment_rejected_requests_total"
    assert sample_sum(metrics, rejected, rule="overloaded") > 0
    assert re.search(r"^sentiment_admission_limit \S+", metrics, flags=re.M)


def test_refusal_is_503_with_retry_after_and_the_error_body(tight_server: str) -> None:
    # Full bodies: the server answers single reviews faster than 64 Python client
    # threads can send them, so only the model's time per body fills the slots.
    body = {"texts": ["a fine, moving film with a cast at its best"] * 256}
    with httpx.Client(timeout=10, limits=httpx.Limits(max_connections=300)) as client:
        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            answers = list(
                pool.map(
                    lambda i: client.post(
                        f"{tight_server}/classify",
                        json=body,
                        headers={"X-Request-ID": f"burst-{i}"},
                    ),
                    range(600),
                )
            )
    refused = [a for a in answers if a.status_code == 503]
    print(f"burst on the tight server: {len(refused)} of {len(answers)} refused")
    assert {a.status_code for a in answers} <= {200, 503}
    assert refused, "600 requests from 64 threads must overload 2 slots per worker"
    first = refused[0]
    assert first.headers["retry-after"] == "1"
    assert first.json()["detail"][0]["type"] == "overloaded"
    assert first.json()["request_id"] == first.headers["x-request-id"]
    assert first.headers["x-request-id"].startswith("burst-")
    after = httpx.post(f"{tight_server}/classify", json=body, timeout=10)
    assert after.status_code == 200, "the server recovers once the burst is over"


def test_locust_spike_scenario_passes_with_refusals_counted_apart(
    server_url: str, tmp_path: Path
) -> None:
    result = run_locust(
        server_url,
        200,
        20,
        "--csv",
        str(tmp_path / "spike"),
        env={
            "LOCUST_SCENARIO": "spike",
            "LOCUST_SPIKE_USERS": "200",
            "LOCUST_SPIKE_RAMP_S": "3",
            "LOCUST_SPIKE_HOLD_S": "6",
            "LOCUST_SPIKE_AFTER_S": "2",
            "LOCUST_ADMITTED_P99_MS": "0",
        },
        locustfile=OVERLOADPY,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "OVERLOAD TEST PASSED" in output
    assert '"failures": 0' in output

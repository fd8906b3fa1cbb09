"""End-to-end operating features on a real `bentoml serve`: explanations, request
IDs, the prediction log, JSON logs, and custom metrics from every worker."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.servers import bentoml_serve

pytestmark = pytest.mark.e2e
REQUESTS = 120


def test_explain_names_the_ngrams_you_would_expect(server_url: str) -> None:
    r = httpx.post(
        f"{server_url}/explain",
        json={"texts": ["not good", "a wonderful, moving film"], "top": 5},
    )
    assert r.status_code == 200, r.text
    not_good, wonderful = r.json()
    assert not_good["label"] == "negative"
    negative = [
        (c["feature"], c["kind"]) for c in not_good["contributions"]["negative"]
    ]
    assert ("good", "lexicon") in negative, not_good  # "good", negated
    positive = [c["feature"] for c in not_good["contributions"]["positive"]]
    assert "good" not in positive  # n-grams in a negation's scope count nothing
    assert wonderful["label"] == "positive"
    assert "wonderful" in [c["feature"] for c in wonderful["contributions"]["positive"]]
    classified = httpx.post(f"{server_url}/classify", json={"texts": ["not good"]})
    assert classified.json()[0]["score"] == pytest.approx(not_good["score"])
    # The default model is two views shared by length: a two-word text is the
    # behaviour view's.
    ngram, behaviour = not_good["components"]
    assert (ngram["name"], behaviour["name"]) == ("ngram_view", "behaviour_view")
    assert behaviour["share"] > 0.99 and "logit" in behaviour


@pytest.mark.parametrize(
    ("body", "top", "rule"),
    [
        (["ab"], 5, "review_too_short"),
        (["fine film"] * 33, 5, "too_long"),
        (["fine film"], 21, "less_than_equal"),
    ],
)
def test_explain_refuses_bad_input_by_rule(
    server_url: str, body: list[str], top: int, rule: str
) -> None:
    r = httpx.post(f"{server_url}/explain", json={"texts": body, "top": top})
    assert r.status_code == 400
    assert rule in {d["type"] for d in r.json()["detail"]}


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"texts": ["a fine film"]}', "application/json", 200),
        (b'{"texts": ["ab"]}', "application/json", 400),
        (b'{"texts": ["a fine film"]}', "text/plain", 415),
        (b'{"texts": ["' + b"a" * 2_000_000 + b'"]}', "application/json", 413),
    ],
)
def test_every_answer_carries_the_request_id(
    server_url: str, content: bytes, content_type: str, status: int
) -> None:
    r = httpx.post(
        f"{server_url}/classify",
        content=content,
        headers={"Content-Type": content_type, "X-Request-ID": "client-abc.1"},
    )
    assert r.status_code == status
    assert r.headers["x-request-id"] == "client-abc.1"
    if status != 200:
        assert r.json()["request_id"] == "client-abc.1"
    fresh = httpx.post(
        f"{server_url}/classify",
        content=content,
        headers={"Content-Type": content_type, "X-Request-ID": "bad id!"},
    )
    assert fresh.headers["x-request-id"] != "bad id!"
    assert len(fresh.headers["x-request-id"]) == 32


def predictions_total(metrics: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "sentiment_predictions"
        for sample in family.samples
        if sample.name == "sentiment_predictions_total"
    )


def test_prediction_log_json_logs_and_metrics_from_both_workers(
    trained_model: str, tmp_path: Path
) -> None:
    log_path = tmp_path / "predictions.jsonl"
    env = {
        "SENTIMENT_PREDICTION_LOG": str(log_path),
        "SENTIMENT_LOG_FORMAT": "json",
        "SENTIMENT_ACCESS_LOG": "1",
        "SENTIMENT_WORKERS": "2",
    }
    server_log = tmp_path / "serve.log"
    with bentoml_serve("service:SentimentClassifier", server_log, env=env) as url:
        sent = {}
        for i in range(REQUESTS):  # a new connection each: both workers get some
            request_id = f"req-{i}"
            r = httpx.post(
                f"{url}/classify",
                json={"texts": [f"review {i}: a wonderful film"]},
                headers={"X-Request-ID": request_id},
            )
            assert r.status_code == 200
            sent[request_id] = r.json()[0]["label"]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            files = sorted(tmp_path.glob("predictions.w*.jsonl"))
            lines = [json.loads(x) for f in files for x in f.read_text().splitlines()]
            if len(lines) >= REQUESTS:
                break
            time.sleep(0.2)
        metrics = httpx.get(f"{url}/metrics").text
    assert [f.name for f in files] == ["predictions.w1.jsonl", "predictions.w2.jsonl"]
    assert all(f.stat().st_size > 0 for f in files), "one worker served nothing"
    assert {line["request_id"]: line["label"] for line in lines} == sent
    assert all("text_sha256" in line and "text" not in line for line in lines)
    assert all(line["known_features"] > 0 for line in lines)
    assert predictions_total(metrics) == REQUESTS, "a worker's metrics are missing"
    access = [
        json.loads(line)
        for line in server_log.read_text().splitlines()
        if line.startswith("{") and '"POST /classify 200' in line
    ]
    assert {entry["request_id"] for entry in access} >= set(sent)

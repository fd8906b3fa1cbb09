"""Live model swaps under load: three promotions and a rollback, nothing lost.

A real ``bentoml serve`` follows the production pointer of its own model name;
wrk keeps 64 connections busy on ``/classify`` while the pointer moves. Every
answer must be a 200, no connection may fail, the tail stays inside the
batching budget, and the answers name each model that served in turn.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import train
from devtools.servers import bentoml_serve
from devtools.tools import require
from devtools.wrk import run_wrk, write_bodies
from ops import promote
from sentiment.lifecycle import registry

pytestmark = pytest.mark.e2e

NAME = "swap-sentiment"
LOAD_SECONDS = 26
BUDGET_MS = 1_000  # SENTIMENT_MAX_LATENCY_MS, the default


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Three models of the same name: fast, ngrams, accurate (no CV: quick)."""
    import bentoml

    require("wrk")  # the load runs in a thread, where a missing wrk is no skip

    tmp = tmp_path_factory.mktemp("swap")
    tags = []
    for preset in ("fast", "ngrams", "accurate"):
        args = ["--model-name", NAME, "--preset", preset, "--cv", "0"]
        assert train.main([*args, "--metrics-out", str(tmp / "m.json")]) == 0
        tags.append(str(bentoml.models.get(f"{NAME}:latest").tag))
    return tags


def test_three_swaps_and_a_rollback_under_load_lose_nothing(
    models: list[str], tmp_path: Path, clear_reviews: list[tuple[str, str]]
) -> None:
    first, second, third = models
    registry.set_production(NAME, first, "promote")
    bodies = write_bodies([text for text, _ in clear_reviews] * 50, 1, tmp_path / "b")
    env = {"SENTIMENT_MODEL_NAME": NAME, "SENTIMENT_MODEL_POLL_S": "0.5"}
    log = tmp_path / "serve.log"
    result: dict[str, Any] = {}
    with bentoml_serve("service:SentimentClassifier", log, env=env) as url:
        load = threading.Thread(
            target=lambda: result.update(
                run_wrk(f"{url}/classify", bodies, 64, LOAD_SECONDS)
            )
        )
        load.start()
        for tag in (second, third, first):
            time.sleep(5)
            registry.set_production(NAME, tag, "promote")
        time.sleep(5)
        assert promote.main(["--model-name", NAME, "--rollback"]) == 0
        load.join(LOAD_SECONDS + 60)
        info = httpx.get(f"{url}/model-info", timeout=10).json()
        metrics = httpx.get(f"{url}/metrics", timeout=10).text

    served = result["statuses"].get(200, 0)
    print(f"swap under load: {result}")  # the numbers, for the record (pytest -s)
    assert result["statuses"] == {200: served} and served > 1_000
    assert sum(result["socket_errors"].values()) == 0
    assert result["p99_us"] / 1000 <= BUDGET_MS
    assert set(result["models"]) == {first, second, third}
    assert sum(result["models"].values()) == served  # every answer names its model
    assert info["tag"] == third and info["production"] is True  # rolled back to it
    assert f'sentiment_model_serving{{tag="{third}"}} 2.0' in metrics  # both workers
    assert f'sentiment_model_serving{{tag="{second}"}} 0.0' in metrics
    assert 'sentiment_model_swaps_total{outcome="swapped"} 8.0' in metrics
    text = log.read_text()
    assert text.count("model swapped") == 4 * 2  # four moves, two workers
    assert "swap refused" not in text


FIRST_NAME = "first-sentiment"
# The load covers the rollback and both workers' swap back (at most BACK_WITHIN_S);
# the promotion before it (the gate starts a real server of its own) runs unloaded:
# promotions under load are the test above. 25 s instead of 90 s keeps it lean.
ROLLBACK_LOAD_SECONDS = 25
BACK_WITHIN_S = 20


def serving_counts(url: str) -> dict[str, float]:
    """How many workers serve each tag, from ``sentiment_model_serving``."""
    counts = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("sentiment_model_serving{tag="):
            labels, value = line.rsplit(" ", 1)
            counts[labels.split('"')[1]] = float(value)
    return counts


def wait_for_both_workers(url: str, tag: str) -> float:
    """Seconds until both workers serve ``tag``; fails past BACK_WITHIN_S."""
    started = time.monotonic()
    while serving_counts(url).get(tag) != 2.0:
        assert time.monotonic() - started < BACK_WITHIN_S, serving_counts(url)
        time.sleep(0.25)
    return time.monotonic() - started


def test_train_serve_train_promote_rollback_serves_the_first_model_again(
    tmp_path: Path, clear_reviews: list[tuple[str, str]]
) -> None:
    """The first model, never promoted, is what the first rollback returns to."""
    import bentoml

    require("wrk")
    args = ["--model-name", FIRST_NAME, "--preset", "fast", "--cv", "2"]
    args += ["--metrics-out", str(tmp_path / "m.json")]
    assert train.main(args) == 0
    first = str(bentoml.models.get(f"{FIRST_NAME}:latest").tag)
    assert registry.production_tag(FIRST_NAME) == first  # adopted: nothing was

    bodies = write_bodies([text for text, _ in clear_reviews] * 50, 1, tmp_path / "b")
    env = {"SENTIMENT_MODEL_NAME": FIRST_NAME, "SENTIMENT_MODEL_POLL_S": "0.5"}
    result: dict[str, Any] = {}
    with bentoml_serve(
        "service:SentimentClassifier", tmp_path / "s.log", env=env
    ) as url:
        assert train.main(args) == 0  # the same configuration: the gate passes it
        second = str(bentoml.models.get(f"{FIRST_NAME}:latest").tag)
        assert second != first and serving_counts(url).get(first) == 2.0
        reports = str(tmp_path / "reports")
        assert promote.main(["--model-name", FIRST_NAME, "--reports", reports]) == 0
        assert registry.audit_log(FIRST_NAME)[-1]["from"] == first
        wait_for_both_workers(url, second)
        load = threading.Thread(
            target=lambda: result.update(
                run_wrk(f"{url}/classify", bodies, 64, ROLLBACK_LOAD_SECONDS)
            )
        )
        load.start()
        time.sleep(1)  # wrk's connections are up before the pointer moves
        assert promote.main(["--model-name", FIRST_NAME, "--rollback"]) == 0
        wait_for_both_workers(url, first)
        assert load.is_alive()  # the rollback and both swaps happened under load
        load.join(ROLLBACK_LOAD_SECONDS + 60)
    assert registry.production_tag(FIRST_NAME) == first
    served = result["statuses"].get(200, 0)
    assert result["statuses"] == {200: served} and served > 1_000
    assert sum(result["socket_errors"].values()) == 0
    assert first in result["models"]

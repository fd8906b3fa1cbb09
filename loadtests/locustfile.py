"""Locust load test for POST /classify.

Mostly single reviews (where adaptive batching matters), sometimes batches of
2-64, and a small share of malformed requests that must get a 4xx. Every response
is checked. At exit the run fails (exit code 1) when the failure ratio or the
p95/p99 latency is over its limit.

Settings (environment variables):
    LOCUST_WAIT_MIN_S / LOCUST_WAIT_MAX_S   wait between a user's tasks (0.05 / 0.25 s)
    LOCUST_MAX_FAILURE_RATIO                highest allowed failure ratio (0)
    LOCUST_P95_MS / LOCUST_P99_MS           latency limits in ms (500 / 1000; 0 = off)
    LOCUST_API_KEY                          sent as a Bearer token (unset: none)

Run headless: ``make loadtest`` (or see the README). Debug in one process:
``python loadtests/locustfile.py``.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

from locust import FastHttpUser, between, events, task

from devtools.corpus import corpus_reviews
from loadtests.checks import (
    MALFORMED_BODIES,
    Limits,
    check_predictions,
    threshold_violations,
)

REVIEWS = list(corpus_reviews())
LIMITS = Limits.from_env()
API_KEY = os.environ.get("LOCUST_API_KEY", "")
AUTH = {"Authorization": f"Bearer {API_KEY}"} if API_KEY else {}


def describe(response: Any) -> str:
    """The start of a response body, or the connection error when there was none."""
    return (response.text or "")[:200] or repr(response.error)


class ReviewUser(FastHttpUser):
    """A client posting reviews to /classify."""

    wait_time = between(
        float(os.environ.get("LOCUST_WAIT_MIN_S", "0.05")),
        float(os.environ.get("LOCUST_WAIT_MAX_S", "0.25")),
    )

    def classify(self, texts: list[str], name: str) -> None:
        """Post texts and check the predictions."""
        with self.client.post(
            "/classify",
            json={"texts": texts},
            headers=AUTH,
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {describe(response)}")
                return
            problem = check_predictions(response.json(), len(texts))
            if problem:
                response.failure(problem)

    @task(16)
    def single_review(self) -> None:
        """One review per request: the case adaptive batching is for."""
        self.classify([random.choice(REVIEWS)], "/classify [1]")

    @task(3)
    def batch_of_reviews(self) -> None:
        """A client-side batch of 2-64 reviews."""
        self.classify(random.sample(REVIEWS, random.randint(2, 64)), "/classify [2-64]")

    @task(1)
    def malformed_request(self) -> None:
        """Bad input must get a 4xx; anything else is a failure."""
        with self.client.post(
            "/classify",
            data=random.choice(MALFORMED_BODIES),
            headers={"Content-Type": "application/json", **AUTH},
            name="/classify [malformed]",
            catch_response=True,
        ) as response:
            if 400 <= response.status_code < 500:
                response.success()
            else:
                response.failure(
                    f"malformed body got {response.status_code}: {describe(response)}"
                )


@events.quitting.add_listener  # type: ignore[untyped-decorator]
def enforce_thresholds(environment: Any, **_: Any) -> None:
    """Set exit code 1 when the run broke a threshold."""
    total = environment.stats.total
    broken = threshold_violations(
        total.fail_ratio,
        total.get_response_time_percentile(0.95) or 0.0,
        total.get_response_time_percentile(0.99) or 0.0,
        LIMITS,
    )
    summary = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "limits": LIMITS.__dict__,
    }
    if broken:
        print(f"LOAD TEST FAILED: {'; '.join(broken)} {json.dumps(summary)}")
        environment.process_exit_code = 1
    else:
        print(f"LOAD TEST PASSED {json.dumps(summary)}")


if __name__ == "__main__":
    from locust import run_single_user

    ReviewUser.host = os.environ.get("HOST", "http://localhost:3000")
    run_single_user(ReviewUser)

"""Pure helpers of the load test: thresholds and response checks.

Kept apart from ``locustfile.py`` so tests can import them without Locust's
gevent monkey-patching.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

LABELS = {"positive", "negative"}
MALFORMED_BODIES = [
    '{"texts": []}',
    '{"texts": ["ab"]}',
    '{"texts": ["123458303"]}',
    '{"texts": [42]}',
    '{"texts": "not a list"}',
    '{"text": ["wrong key"]}',
    "null",
    '{"texts": [',
]


@dataclass(frozen=True)
class Limits:
    """Pass/fail thresholds, read once from the environment."""

    max_failure_ratio: float = 0.0
    p95_ms: float = 500.0
    p99_ms: float = 1000.0

    @classmethod
    def from_env(cls) -> Limits:
        """Read ``LOCUST_MAX_FAILURE_RATIO``, ``LOCUST_P95_MS``, ``LOCUST_P99_MS``."""
        defaults = cls()
        return cls(
            max_failure_ratio=float(
                os.environ.get("LOCUST_MAX_FAILURE_RATIO", defaults.max_failure_ratio)
            ),
            p95_ms=float(os.environ.get("LOCUST_P95_MS", defaults.p95_ms)),
            p99_ms=float(os.environ.get("LOCUST_P99_MS", defaults.p99_ms)),
        )


def threshold_violations(
    fail_ratio: float, p95_ms: float, p99_ms: float, limits: Limits
) -> list[str]:
    """Say which limits a run broke; an empty list means it passed.

    Args:
        fail_ratio: failed requests / all requests.
        p95_ms: the run's 95th percentile response time.
        p99_ms: the run's 99th percentile response time.
        limits: the thresholds; a latency limit of 0 is not checked.
    """
    broken = []
    if fail_ratio > limits.max_failure_ratio:
        broken.append(
            f"failure ratio {fail_ratio:.4f} > {limits.max_failure_ratio:.4f}"
        )
    if limits.p95_ms and p95_ms > limits.p95_ms:
        broken.append(f"p95 {p95_ms:.0f} ms > {limits.p95_ms:.0f} ms")
    if limits.p99_ms and p99_ms > limits.p99_ms:
        broken.append(f"p99 {p99_ms:.0f} ms > {limits.p99_ms:.0f} ms")
    return broken


def check_predictions(body: Any, expected: int) -> str | None:
    """Return what is wrong with a /classify answer, or None if it is right."""
    if not isinstance(body, list) or len(body) != expected:
        return f"expected a list of {expected} predictions, got {str(body)[:200]}"
    labels = {item.get("label") for item in body if isinstance(item, dict)}
    if not labels <= LABELS or len(labels) == 0:
        return f"unexpected labels {labels}"
    return None


REFUSAL_RULES = {503: ('"overloaded"',), 429: ('"over_share"', '"rate_limited"')}


def is_refusal(status: int, headers: dict[str, str], body: str) -> bool:
    """Whether a response is a refusal the load tests count apart from failures.

    A 503 ``overloaded``, or a 429 for a tenant over its share or its rate,
    each with ``Retry-After``.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    rules = REFUSAL_RULES.get(status, ())
    return "retry-after" in lowered and any(rule in body for rule in rules)

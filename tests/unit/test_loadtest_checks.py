"""Unit tests for the load test's pass/fail logic and response checks."""

from __future__ import annotations

import pytest

from loadtests import checks


def test_no_violation_within_limits() -> None:
    limits = checks.Limits(max_failure_ratio=0.0, p95_ms=500, p99_ms=1000)
    assert checks.threshold_violations(0.0, 120, 900, limits) == []


def test_each_limit_is_reported() -> None:
    limits = checks.Limits(max_failure_ratio=0.01, p95_ms=100, p99_ms=200)
    broken = checks.threshold_violations(0.02, 150, 250, limits)
    assert broken == [
        "failure ratio 0.0200 > 0.0100",
        "p95 150 ms > 100 ms",
        "p99 250 ms > 200 ms",
    ]


def test_zero_latency_limit_is_off() -> None:
    limits = checks.Limits(max_failure_ratio=0.0, p95_ms=0, p99_ms=0)
    assert checks.threshold_violations(0.0, 10_000, 99_000, limits) == []


def test_limits_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCUST_P99_MS", "250")
    monkeypatch.delenv("LOCUST_P95_MS", raising=False)
    limits = checks.Limits.from_env()
    assert limits.p99_ms == 250 and limits.p95_ms == 500


@pytest.mark.parametrize(
    ("body", "expected", "ok"),
    [
        ([{"label": "positive"}, {"label": "negative"}], 2, True),
        ([{"label": "positive"}], 2, False),
        ([{"label": "neutral"}], 1, False),
        ({"error": "x"}, 1, False),
        ([], 0, False),
    ],
)
def test_check_predictions(body, expected: int, ok: bool) -> None:
    assert (checks.check_predictions(body, expected) is None) is ok


@pytest.mark.parametrize(
    ("status", "headers", "body", "refusal"),
    [
        (503, {"Retry-After": "1"}, '{"detail": [{"type": "overloaded"}]}', True),
        (429, {"retry-after": "1"}, '{"detail": [{"type": "over_share"}]}', True),
        (429, {"Retry-After": "1"}, '{"detail": [{"type": "rate_limited"}]}', True),
        (429, {"Retry-After": "10"}, '{"detail": [{"type": "too_many_jobs"}]}', False),
        (503, {}, '{"detail": [{"type": "overloaded"}]}', False),
        (504, {}, '{"detail": [{"type": "deadline_exceeded"}]}', False),
    ],
)
def test_refusals_are_the_overload_503_and_the_tenant_429s(
    status: int, headers: dict[str, str], body: str, refusal: bool
) -> None:
    assert checks.is_refusal(status, headers, body) is refusal

"""sentiment.http.measures: the token bucket, service rate and quantile."""

from __future__ import annotations

import pytest

from sentiment.http.measures import ServiceRate, ServiceTime, TokenBucket


def test_token_bucket_allows_its_rate_and_burst_only() -> None:
    bucket = TokenBucket(rate=100.0, burst=10.0)
    assert sum(bucket.take(0.0) for _ in range(20)) == 10
    assert not bucket.take(0.0)
    assert bucket.next_token_at(0.0) == pytest.approx(0.01)
    assert sum(bucket.take(0.5) for _ in range(100)) == 10  # capped at the burst
    assert TokenBucket(rate=0.0, burst=0.0).next_token_at(1.0) is None


def test_service_rate_is_measured_only_while_requests_wait() -> None:
    rate = ServiceRate()
    for i in range(200):  # 100/s, but nobody waited: that is the arrival rate
        rate.finish(i / 100, waiting=False)
    assert rate.per_s is None
    for i in range(200, 400):
        rate.finish(i / 100, waiting=True)
    assert rate.per_s == pytest.approx(100, rel=0.05)


def test_service_time_is_a_high_quantile_of_the_recent_answers() -> None:
    inside = ServiceTime(0.99)
    for i in range(ServiceTime.MIN_SAMPLES - 1):
        inside.record(i * 0.001, 0.01)
    assert inside.seconds is None, "not before enough answers"
    for i in range(ServiceTime.SAMPLES):  # 1 in 50 takes 200 ms, the rest 10 ms
        inside.record(1.0 + i * 0.001, 0.2 if i % 50 == 0 else 0.01)
    assert inside.seconds == pytest.approx(0.2), "the slow 2% sets the 99th"
    for i in range(ServiceTime.SAMPLES):  # the slow ones stop
        inside.record(2.0 + i * 0.01, 0.01)
    assert inside.seconds == pytest.approx(0.01), "only the recent answers count"


def test_service_time_is_recomputed_at_most_once_a_window() -> None:
    inside = ServiceTime(0.99)
    for _ in range(ServiceTime.MIN_SAMPLES):
        inside.record(0.0, 0.01)
    assert inside.seconds == pytest.approx(0.01)
    for _ in range(ServiceTime.SAMPLES):
        inside.record(0.1, 0.5)  # within the same window: kept for later
    assert inside.seconds == pytest.approx(0.01)
    inside.record(ServiceTime.WINDOW_S, 0.5)
    assert inside.seconds == pytest.approx(0.5)

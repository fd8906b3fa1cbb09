"""sentiment.http.measures: the token bucket and the service rate."""

from __future__ import annotations

import pytest

from sentiment.http.measures import ServiceRate, TokenBucket


def test_token_bucket_allows_its_rate_and_burst_only() -> None:
    bucket = TokenBucket(rate=100.0, burst=10.0)
    assert sum(bucket.take(0.0) for _ in range(20)) == 10
    assert not bucket.take(0.0)
    assert bucket.take(0.01), "one token earned in 10 ms"
    assert sum(bucket.take(0.5) for _ in range(100)) == 10  # capped at the burst


def test_service_rate_is_measured_only_while_requests_wait() -> None:
    rate = ServiceRate()
    for i in range(200):  # 100/s, but nobody waited: that is the arrival rate
        rate.finish(i / 100, waiting=False)
    assert rate.per_s is None
    for i in range(200, 400):
        rate.finish(i / 100, waiting=True)
    assert rate.per_s == pytest.approx(100, rel=0.05)

"""sentiment.telemetry.metrics: each tenant's series exist before its first request."""

from __future__ import annotations

import prometheus_client

from sentiment.telemetry.metrics import TenantSeries


def value(name: str, **labels: str) -> float | None:
    return prometheus_client.REGISTRY.get_sample_value(name, labels)


def test_a_tenants_series_read_zero_from_the_start() -> None:
    TenantSeries("series-test", ["queue_full", "deadline"])
    for reason in ("queue_full", "deadline"):
        refused = value(
            "sentiment_admission_refusals_total", reason=reason, tenant="series-test"
        )
        assert refused == 0.0
    for name in ("sentiment_tenant_admitted_total", "sentiment_tenant_reviews_total"):
        assert value(name, tenant="series-test") == 0.0
    dropped = "sentiment_batch_dropped_total"
    assert value(dropped, reason="disconnect", tenant="series-test") == 0.0
    assert (
        value("sentiment_admission_refusals_total", reason="x", tenant="none") is None
    )


def test_the_bound_series_count_for_their_tenant_only() -> None:
    series = TenantSeries("series-count", ["over_share"])
    TenantSeries("series-other", ["over_share"])
    series.refused["over_share"].inc()
    series.admitted.inc(2)
    refused = "sentiment_admission_refusals_total"
    assert value(refused, reason="over_share", tenant="series-count") == 1.0
    assert value(refused, reason="over_share", tenant="series-other") == 0.0
    assert value("sentiment_tenant_admitted_total", tenant="series-count") == 2.0

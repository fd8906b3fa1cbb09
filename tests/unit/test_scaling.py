"""The autoscaling signal: admission gauges that fall back to 0 when a worker idles."""

from __future__ import annotations

from sentiment.config import Settings
from sentiment.telemetry.metrics import IN_FLIGHT, QUEUED
from tests.asgi import FakeApp, admission_for, request


def test_the_demand_gauges_read_zero_once_the_worker_is_idle() -> None:
    """Even when the last request ends within the gauges' refresh interval."""
    admission = admission_for(FakeApp(), Settings(), clock=lambda: 100.0)  # time stands
    assert request(admission).status == 200
    assert request(admission).status == 200
    assert IN_FLIGHT._value.get() == 0  # type: ignore[attr-defined]
    assert QUEUED._value.get() == 0  # type: ignore[attr-defined]

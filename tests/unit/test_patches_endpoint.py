"""Unit tests for sentiment.patches.endpoint: BentoML's batched call and series.

The first tests fail loudly when BentoML changes under the direct path: the
factory it captures, the call it makes, the series it keeps.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from _bentoml_impl.server.app import ServiceAppFactory
from _bentoml_sdk.service.factory import Service
from bentoml._internal.server.http.instruments import RunnerTrafficMetricsMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sentiment.patches import EndpointMetrics, batch_caller, metrics_middleware

LABELS = ["endpoint", "service_name", "service_version", "runner_name"]


def test_to_asgi_is_the_two_steps_wrap_asgi_app_repeats() -> None:
    source = inspect.getsource(inspect.unwrap(Service.to_asgi))  # BentoML's own
    assert "self.inject_config()" in source
    assert "ServiceAppFactory(self, is_main=is_main)" in source
    assert "return factory()" in source


def test_batch_infer_takes_the_api_name_and_its_arguments() -> None:
    parameters = list(inspect.signature(ServiceAppFactory.batch_infer).parameters)
    assert parameters == ["self", "name", "input_args", "input_kwargs"]
    assert "self.dispatchers[name]" in inspect.getsource(ServiceAppFactory.batch_infer)
    built = inspect.getsource(ServiceAppFactory.__init__)  # batchable APIs only
    assert "if not method.batchable:" in built and "self.dispatchers[name] =" in built


def test_the_metrics_middleware_keeps_the_series_endpoint_metrics_binds() -> None:
    setup = inspect.getsource(RunnerTrafficMetricsMiddleware._setup)
    for name in (
        "metrics_request_total",
        "metrics_request_duration",
        "metrics_request_in_progress",
        "metrics_last_request_timestamp",
        "_is_setup = True",
    ):
        assert name in setup, name
    call = inspect.getsource(RunnerTrafficMetricsMiddleware.__call__)
    assert "track_inprogress" in call and "default_timer()" in call


def test_batch_caller_hands_the_value_to_batch_infer_as_the_endpoint_does() -> None:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    class Factory:
        dispatchers = {"classify": object()}

        async def batch_infer(
            self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> list[str]:
            calls.append((name, args, kwargs))
            return ["answer"]

    call = batch_caller(Factory(), "classify")
    assert call is not None
    assert asyncio.run(call(["a fine film"])) == ["answer"]
    assert calls == [("classify", (["a fine film"],), {})]


def test_an_api_that_does_not_batch_has_no_batched_call() -> None:
    """SENTIMENT_BATCHING=0: no dispatcher, so batch_infer would raise KeyError."""

    class Factory:
        dispatchers: dict[str, object] = {}

    assert batch_caller(Factory(), "classify") is None


def set_up_middleware() -> RunnerTrafficMetricsMiddleware:
    """A set-up BentoML metrics middleware whose series live in a private registry."""
    registry = CollectorRegistry()
    middleware = RunnerTrafficMetricsMiddleware.__new__(RunnerTrafficMetricsMiddleware)
    coded = [*LABELS, "http_response_code"]
    middleware.metrics_request_total = Counter("rt", "", coded, registry=registry)
    middleware.metrics_request_duration = Histogram("rd", "", coded, registry=registry)
    middleware.metrics_request_in_progress = Gauge("rp", "", LABELS, registry=registry)
    middleware.metrics_last_request_timestamp = Gauge(
        "lr", "", ["service_name", "service_version", "runner_name"], registry=registry
    )
    middleware._is_setup = True
    middleware.registry = registry  # type: ignore[attr-defined]
    return middleware


def sample(middleware: Any, name: str, **labels: str) -> float:
    value = middleware.registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


def test_metrics_middleware_is_found_in_the_built_stack_once_set_up() -> None:
    middleware = set_up_middleware()

    class Layer:
        def __init__(self, app: Any) -> None:
            self.app = app

    app = Layer(None)
    app.middleware_stack = Layer(Layer(middleware))  # type: ignore[attr-defined]
    assert metrics_middleware(app) is middleware
    middleware._is_setup = False
    assert metrics_middleware(app) is None
    assert metrics_middleware(Layer(None)) is None  # stack not built yet


def test_endpoint_metrics_count_time_and_track_as_bentoml_does() -> None:
    middleware = set_up_middleware()
    metrics = EndpointMetrics(middleware, "/classify")
    labels = {k: str(v) for k, v in metrics.labels.items()}
    started = metrics.started()
    assert sample(middleware, "rp", **labels) == 1
    metrics.finished(200, started)
    metrics.finished(504, metrics.started())
    assert sample(middleware, "rp", **labels) == 0
    assert sample(middleware, "rt_total", **labels, http_response_code="200") == 1
    assert sample(middleware, "rt_total", **labels, http_response_code="504") == 1
    assert sample(middleware, "rd_count", **labels, http_response_code="200") == 1
    last = {k: v for k, v in labels.items() if k != "endpoint"}
    assert sample(middleware, "lr", **last) > 0


def test_endpoint_metrics_without_bentoml_metrics_do_nothing() -> None:
    metrics = EndpointMetrics(None, "/classify")
    metrics.finished(200, metrics.started())  # no error, nothing to count

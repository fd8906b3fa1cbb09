"""Unit tests for sentiment.patches.endpoint: BentoML's batched call and series.

The first tests fail loudly when BentoML changes under the edge: the factory it
captures, the calls it makes, the series it keeps.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest
from _bentoml_impl.server.app import ServiceAppFactory
from _bentoml_sdk.service.factory import Service
from bentoml._internal.server.http.instruments import RunnerTrafficMetricsMiddleware
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from sentiment.errors import StartupError
from sentiment.patches import BentoApis, RequestSeries
from sentiment.patches.endpoint import EndpointMetrics, metrics_middleware

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


def test_the_threaded_call_and_input_model_are_where_the_endpoint_finds_them() -> None:
    endpoint = inspect.getsource(ServiceAppFactory.api_endpoint)
    assert "getattr(self._service_instance, name).local" in endpoint
    assert "await self._to_thread(func, *call_args, **call_kwargs)" in endpoint
    assert "method.input_spec.from_http_request" in endpoint


def test_batched_hands_the_value_to_batch_infer_as_the_endpoint_does() -> None:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    class Factory:
        dispatchers = {"classify": object()}

        async def batch_infer(
            self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
        ) -> list[str]:
            calls.append((name, args, kwargs))
            return ["answer"]

    call = BentoApis(Factory()).batched("classify")
    assert asyncio.run(call(["a fine film"])) == ["answer"]
    assert calls == [("classify", (["a fine film"],), {})]


def test_an_api_that_does_not_batch_cannot_start() -> None:
    class Factory:
        dispatchers: dict[str, object] = {}

    with pytest.raises(StartupError, match="classify API must be batchable"):
        BentoApis(Factory()).batched("classify")


def test_threaded_runs_the_bound_api_on_bentomls_thread() -> None:
    ran: list[tuple[Any, dict[str, Any]]] = []

    class Api:
        @staticmethod
        def local(**kwargs: Any) -> str:
            return f"explained {kwargs}"

    class Instance:
        explain = Api()

    class Factory:
        _service_instance = Instance()

        async def _to_thread(self, func: Any, **kwargs: Any) -> Any:
            ran.append((func, kwargs))
            return func(**kwargs)

    call = BentoApis(Factory()).threaded("explain")
    assert (
        asyncio.run(call(texts=["a"], top=3)) == "explained {'texts': ['a'], 'top': 3}"
    )
    assert ran[0][1] == {"texts": ["a"], "top": 3}


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


def test_request_series_are_bound_per_path_once_bentoml_set_them_up() -> None:
    middleware = set_up_middleware()

    class App:
        middleware_stack: Any = None

    app = App()
    series = RequestSeries(app)
    assert series("/classify").middleware is None  # the stack is not built yet
    app.middleware_stack = middleware
    classify = series("/classify")
    assert classify.middleware is middleware and series("/classify") is classify
    assert series("/explain").labels["endpoint"] == "/explain"


def test_traced_serves_the_request_inside_a_server_span() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
        InMemorySpanExporter,
    )

    from sentiment.patches import traced
    from tests.asgi import FakeApp, request

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app, seen = FakeApp(), []

    async def serve(scope: Any, receive: Any, send: Any, *rest: Any) -> None:
        seen.append(rest)
        await app(scope, receive, send)

    serve_traced = traced(serve, provider)

    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        await serve_traced(scope, receive, send, "headers", "/classify")

    assert request(asgi).status == 200 and seen == [("headers", "/classify")]
    names = [span.name for span in exporter.get_finished_spans()]
    assert "POST /classify" in names

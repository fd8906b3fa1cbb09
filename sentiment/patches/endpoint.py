"""The parts of BentoML's API endpoint that the model routes' one path reuses.

The edge (:mod:`sentiment.http.edge`) answers the model's routes without
BentoML's request path (Starlette's routing, the IO descriptor, the response
object) but through what matters in it: the batching dispatcher that
``ServiceAppFactory.batch_infer`` feeds (:class:`BentoApis`), the API's own
thread and input model, and BentoML's request series
(``bentoml_service_request_*``, :class:`RequestSeries`), which the dashboards,
alerts and autoscaling read. All are internals of ``_bentoml_impl.server.app``
and ``bentoml._internal.server.http.instruments``, pinned by
``tests/unit/test_patches.py``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from sentiment.errors import StartupError
from sentiment.patches.internals import BentoMLContainer, RunnerTrafficMetricsMiddleware

ModelCall = Callable[..., Awaitable[Any]]


class BentoApis:
    """The service's BentoML APIs as the edge's handlers call them.

    ``factory`` is the worker's ``ServiceAppFactory``. Its service instance is
    made at the app's start-up, after the edge is built, so each call looks it
    up; its dispatchers exist from the start.
    """

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def batched(self, name: str) -> ModelCall:
        """API ``name``'s call as BentoML's endpoint makes it, after parsing.

        ``batch_infer`` queues the value in the API's dispatcher, which merges
        it with the other requests' into one model call.
        """
        if name not in self.factory.dispatchers:
            raise StartupError(f"the {name} API must be batchable")
        batch_infer = self.factory.batch_infer

        async def call(value: Any) -> Any:
            return await batch_infer(name, (value,), {})

        return call

    def threaded(self, name: str) -> ModelCall:
        """API ``name`` run on BentoML's thread, as its endpoint runs a sync API."""
        factory = self.factory

        async def call(**kwargs: Any) -> Any:
            func = getattr(factory._service_instance, name).local
            return await factory._to_thread(func, **kwargs)

        return call

    def input_model(self, name: str) -> Any:
        """API ``name``'s input model (pydantic), which names what broke."""
        return self.factory.service.apis[name].input_spec


def metrics_middleware(app: Any) -> Any | None:
    """BentoML's request-metrics middleware in ``app``'s built stack, or None.

    Starlette builds the stack at the first call (the lifespan's startup, before
    any request), and the middleware creates its series then. None when metrics
    are off, or before that first call.
    """
    node = getattr(app, "middleware_stack", None)
    while node is not None:
        if isinstance(node, RunnerTrafficMetricsMiddleware):
            return node if node._is_setup else None
        node = getattr(node, "app", None)
    return None


class EndpointMetrics:
    """BentoML's ``bentoml_service_request_*`` series for one endpoint, kept as it does.

    The label lookups BentoML makes per request (four ``labels()`` calls, about
    20 us) are made once here for the 200 answer; other statuses look theirs up.
    Without BentoML's middleware (metrics off) every call does nothing.
    """

    def __init__(self, middleware: Any | None, endpoint: str) -> None:
        from bentoml import server_context

        self.middleware = middleware
        self.labels = {
            "endpoint": endpoint,
            "service_name": server_context.bento_name,
            "service_version": server_context.bento_version,
            "runner_name": server_context.service_name,
        }
        if middleware is None:
            return
        served = {**self.labels, "http_response_code": 200}
        self.total_200 = middleware.metrics_request_total.labels(**served)
        self.duration_200 = middleware.metrics_request_duration.labels(**served)
        self.in_progress = middleware.metrics_request_in_progress.labels(**self.labels)
        last = {k: v for k, v in self.labels.items() if k != "endpoint"}
        self.last_request = middleware.metrics_last_request_timestamp.labels(**last)

    def started(self) -> float:
        """A request came in: the in-progress gauge and the last-request time."""
        if self.middleware is not None:
            self.last_request.set_to_current_time()
            self.in_progress.inc()
        return time.perf_counter()

    def finished(self, status: int, started: float) -> None:
        """Its answer left: counted and timed by status, no longer in progress."""
        if self.middleware is None:
            return
        seconds = max(time.perf_counter() - started, 0.0)
        if status == 200:
            self.total_200.inc()
            self.duration_200.observe(seconds)
        else:
            labels = {**self.labels, "http_response_code": status}
            self.middleware.metrics_request_total.labels(**labels).inc()
            self.middleware.metrics_request_duration.labels(**labels).observe(seconds)
        self.in_progress.dec()


class RequestSeries:
    """Each model path's :class:`EndpointMetrics`, once BentoML's stack is built.

    Until the first request has built the stack (:func:`metrics_middleware`),
    a path's series counts nothing and is looked up again next time.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.by_path: dict[str, EndpointMetrics] = {}

    def __call__(self, path: str) -> EndpointMetrics:
        """The series of ``path``."""
        series = self.by_path.get(path)
        if series is None:
            middleware = metrics_middleware(self.app)
            series = EndpointMetrics(middleware, path)
            if middleware is not None:
                self.by_path[path] = series
        return series


def traced(
    serve: Callable[..., Awaitable[None]], provider: Any = None
) -> Callable[..., Awaitable[None]]:
    """``serve(scope, receive, send, *rest)`` in a span, as BentoML traces a route.

    The same OpenTelemetry ASGI middleware BentoML puts in its stack, with
    BentoML's tracer provider unless ``provider`` is given (``SENTIMENT_TRACING=1``):
    the model's routes are answered outside that stack, so the edge makes their
    spans itself.
    """
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    if provider is None:
        provider = BentoMLContainer.tracer_provider.get()

    async def serve_traced(scope: Any, receive: Any, send: Any, *rest: Any) -> None:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            await serve(scope, receive, send, *rest)

        middleware = OpenTelemetryMiddleware(
            app, default_span_details=None, tracer_provider=provider
        )
        await middleware(scope, receive, send)

    return serve_traced

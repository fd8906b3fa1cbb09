"""The parts of BentoML's API endpoint that the edge's direct path reuses.

:mod:`sentiment.http.direct` answers a plainly valid ``POST /classify`` without
BentoML's request path (Starlette's routing, the IO descriptor, pydantic, the
response object) but through what matters in it: the batching dispatcher that
``ServiceAppFactory.batch_infer`` feeds (adaptive batching, across both paths),
and BentoML's own request series (``bentoml_service_request_*``), which the
dashboards, alerts and autoscaling read. Both are internals of
``_bentoml_impl.server.app`` and ``bentoml._internal.server.http.instruments``,
pinned by ``tests/unit/test_patches.py``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

BatchCall = Callable[[Any], Awaitable[Any]]


def batch_caller(factory: Any, api: str) -> BatchCall | None:
    """``api``'s batched call as BentoML's endpoint makes it, after parsing.

    ``factory`` is the worker's ``ServiceAppFactory``: its ``batch_infer``
    queues the value in the API's dispatcher, which merges it with the other
    requests' (from either path) into one model call. None when ``api`` has no
    dispatcher (not batchable: ``batch_infer`` would fail with a KeyError).
    """
    if api not in factory.dispatchers:
        return None

    async def call(value: Any) -> Any:
        return await factory.batch_infer(api, (value,), {})

    return call


def metrics_middleware(app: Any) -> Any | None:
    """BentoML's request-metrics middleware in ``app``'s built stack, or None.

    Starlette builds the stack at the first call (the lifespan's startup, before
    any request), and the middleware creates its series then. None when metrics
    are off, or before that first call.
    """
    from bentoml._internal.server.http.instruments import (
        RunnerTrafficMetricsMiddleware,
    )

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
        from bentoml._internal.context import server_context

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

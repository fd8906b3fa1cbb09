"""The routes this service answers, matched exactly, and what each one requires.

The edge (:mod:`sentiment.http.admission`) looks a request's path up here before
anything else reads the request. A path that is not exactly a known route is
answered 404 there, so routing, the API-key check and BentoML's metrics (labelled
by path) all see the same, bounded set of paths. Exact means exact: Python's
``re`` ``$`` also matches before a trailing newline, and uvicorn decodes ``%0A``
into the path, so a pattern like Starlette's ``^/classify$`` accepts
``/classify`` plus a newline; a dictionary lookup does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sentiment.patches import swagger_assets

CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
# BentoML's own routes (_bentoml_impl/server/app.py: system routes and the docs).
BENTOML_ROUTES = ("/", "/docs.json", "/schema.json", "/livez", "/healthz", "/readyz")
METRICS_ROUTE = "/metrics"
V2_MODELS = "/v2/models"  # the prefix of every V2 model route
# Answered by this package's middlewares (sentiment.http.operator, sentiment.http.oip).
OPERATOR_ROUTES = ("/model-info", "/ui")
V2_ROUTES = ("/v2", "/v2/health/live", "/v2/health/ready")
# What a @bentoml.task adds beside its own route (the same app.py).
TASK_SUFFIXES = ("/submit", "/status", "/get", "/retry", "/cancel")


@dataclass(frozen=True)
class Route:
    """What one path is.

    Attributes:
        needs_key: a request needs the API key (when the service has one).
        model: a ``POST`` reaches the model: overload admission applies.
        upload: a ``POST`` carries a file: its size and type are checked first.
        starts_job: a ``POST`` starts a file job: it needs a free job slot.
    """

    needs_key: bool = False
    model: bool = False
    upload: bool = False
    starts_job: bool = False


OPEN = Route()
MODEL = Route(needs_key=True, model=True)
JOB = Route(needs_key=True)
UPLOAD = Route(needs_key=True, upload=True, starts_job=True)
RETRY = Route(needs_key=True, starts_job=True)
TASK_ROUTES = {"/submit": UPLOAD, "/retry": RETRY}


def static_routes() -> list[str]:
    """BentoML's Swagger UI assets, one route per file it ships."""
    assets = swagger_assets()
    return [f"/static_content/{p.name}" for p in sorted(assets.iterdir())]


class RouteTable:
    """Every path the service answers, looked up exactly.

    Args:
        model_routes: the routes of the model's APIs (``/classify``, ``/explain``).
        task_routes: the routes of ``@bentoml.task`` APIs (``/classify_file``).
        model_name: the name V2 clients use (``/v2/models/<name>/...``).
        live_version: the version of the model serving now; the only version a
            ``/v2/models/<name>/versions/<version>`` path may name.
        static: BentoML's static asset routes.
    """

    def __init__(
        self,
        model_routes: Iterable[str],
        task_routes: Iterable[str],
        model_name: str,
        live_version: Callable[[], str],
        static: Iterable[str] = (),
    ) -> None:
        self.exact: dict[str, Route] = dict.fromkeys(
            (*BENTOML_ROUTES, METRICS_ROUTE, *OPERATOR_ROUTES, *V2_ROUTES, *static),
            OPEN,
        )
        for path in model_routes:
            self.exact[path] = MODEL
        for path in task_routes:
            self.exact[path] = UPLOAD
            for suffix in TASK_SUFFIXES:
                self.exact[path + suffix] = TASK_ROUTES.get(suffix, JOB)
        self.v2_model = f"{V2_MODELS}/{model_name}"
        self.exact[self.v2_model] = OPEN
        self.exact[f"{self.v2_model}/ready"] = OPEN
        self.exact[f"{self.v2_model}/infer"] = MODEL
        self.versions_prefix = f"{self.v2_model}/versions/"
        self.live_version = live_version

    def find(self, path: str) -> Route | None:
        """The route ``path`` names exactly, or None."""
        route = self.exact.get(path)
        if route is not None or not path.startswith(self.versions_prefix):
            return route
        version, _, action = path[len(self.versions_prefix) :].partition("/")
        if not version or version != self.live_version():
            return None
        return {"": OPEN, "ready": OPEN, "infer": MODEL}.get(
            action if "/" not in action else "?"
        )

    def paths(self) -> list[str]:
        """Every exact path (versioned V2 paths aside)."""
        return sorted(self.exact)


def route_table(
    service: object, model_name: str, live_version: Callable[[], str]
) -> RouteTable:
    """The table of a BentoML service: its APIs' routes plus the fixed ones."""
    apis = getattr(service, "apis", {})
    model_routes = [api.route for api in apis.values() if not api.is_task]
    task_routes = [api.route for api in apis.values() if api.is_task]
    return RouteTable(
        model_routes, task_routes, model_name, live_version, static_routes()
    )


MODEL_APIS = ("/classify", "/explain")
TASK_APIS = ("/classify_file",)


def tracing_options(tracing: bool) -> dict[str, list[str]]:
    """BentoML's ``tracing`` config: every route when asked, else not the model's.

    OpenTelemetry creates a span per request even with no exporter configured,
    measured at ~10% of a worker's CPU, so the model's routes are traced only
    when ``SENTIMENT_TRACING`` asks for it.
    """
    return {} if tracing else {"excluded_urls": [*MODEL_APIS, V2_MODELS]}


def default_table(model_name: str) -> RouteTable:
    """This service's routes without BentoML's assets or versioned V2 paths."""
    return RouteTable(MODEL_APIS, TASK_APIS, model_name, lambda: "")

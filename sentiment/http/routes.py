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
from typing import Literal

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


Serves = Literal["any", "online", "jobs"]


@dataclass(frozen=True)
class Route:
    """What one path is.

    Attributes:
        needs_key: a request needs the API key (when the service has one).
        handler: the model handler a ``POST`` goes to, by its key in the
            service's model routes (empty: BentoML answers it).
        serves: which replica role answers it (:mod:`sentiment.http.roles`).
        upload: a ``POST`` carries a file: its size and type are checked first.
        starts_job: a ``POST`` starts a file job: it needs a free job slot.
    """

    needs_key: bool = False
    handler: str = ""
    serves: Serves = "any"
    upload: bool = False
    starts_job: bool = False

    @property
    def model(self) -> bool:
        """A ``POST`` reaches the model: overload admission and the edge apply."""
        return bool(self.handler)


OPEN = Route()
JOB = Route(needs_key=True, serves="jobs")
UPLOAD = Route(needs_key=True, serves="jobs", upload=True, starts_job=True)
RETRY = Route(needs_key=True, serves="jobs", starts_job=True)
TASK_ROUTES = {"/submit": UPLOAD, "/retry": RETRY}
# The key of V2 inference among the model routes: /v2/models/<name>/infer and
# its versioned form.
V2_INFER = f"{V2_MODELS}/{{name}}/infer"


def model_route(handler: str) -> Route:
    """The route of a model handler: the key, online replicas, the edge."""
    return Route(needs_key=True, handler=handler, serves="online")


def static_routes() -> list[str]:
    """BentoML's Swagger UI assets, one route per file it ships."""
    assets = swagger_assets()
    return [f"/static_content/{p.name}" for p in sorted(assets.iterdir())]


class RouteTable:
    """Every path the service answers, looked up exactly.

    Args:
        model_routes: the model's routes, each its handler's key (``/classify``,
            ``/explain``, :data:`V2_INFER`): the service's one list of them.
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
        self.v2_model = f"{V2_MODELS}/{model_name}"
        self.exact[self.v2_model] = OPEN
        self.exact[f"{self.v2_model}/ready"] = OPEN
        self.versioned = {"": OPEN, "ready": OPEN}
        for key in model_routes:
            if key == V2_INFER:
                self.exact[f"{self.v2_model}/infer"] = model_route(key)
                self.versioned["infer"] = model_route(key)
            else:
                self.exact[key] = model_route(key)
        for path in task_routes:
            self.exact[path] = UPLOAD
            for suffix in TASK_SUFFIXES:
                self.exact[path + suffix] = TASK_ROUTES.get(suffix, JOB)
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
        return self.versioned.get(action if "/" not in action else "?")


def route_table(
    service: object,
    model_routes: Iterable[str],
    model_name: str,
    live_version: Callable[[], str],
) -> RouteTable:
    """The table of a BentoML service: its model routes, its tasks, the fixed ones."""
    apis = getattr(service, "apis", {})
    task_routes = [api.route for api in apis.values() if api.is_task]
    return RouteTable(
        model_routes, task_routes, model_name, live_version, static_routes()
    )

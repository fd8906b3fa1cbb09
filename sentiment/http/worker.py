"""What each worker builds over its BentoML APIs: handlers, the edge, admission.

:func:`install` makes every worker's ASGI app start with
:class:`sentiment.http.admission.Admission`, and keeps the worker's own pieces in
a :class:`Worker`: the gRPC server (:mod:`sentiment.rpc`) serves through the same
admission queue and the same handlers, so both transports share one queue, one
batch and one data plane.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp

from sentiment.config import Settings
from sentiment.http.admission import Admission, ModelServe
from sentiment.http.edge import Classified, ModelEdge
from sentiment.http.handlers import Handler, ModelApis
from sentiment.http.routes import RouteTable
from sentiment.http.tenants import load_tenants
from sentiment.patches import BentoApis, RequestSeries, traced, wrap_asgi_app

# Builds a model route's handler over the worker's BentoML APIs
BuildHandler = Callable[[ModelApis, Settings], Handler]


@dataclass
class Worker:
    """This worker's admission and model handlers, once BentoML has built its app.

    Attributes:
        admission: the outermost layer, with the worker's one admission queue.
        handlers: each model route's handler, by its key (``/classify``, V2 infer).
        edge: the model routes' edge (gRPC logs its predictions through it).
    """

    admission: Admission | None = None
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    edge: ModelEdge | None = None


def install(
    service: Any,
    settings: Settings,
    routes: RouteTable,
    handlers: Mapping[str, BuildHandler],
    on_classified: Classified | None = None,
) -> Worker:
    """Make ``service``'s ASGI app (each worker's) start with :class:`Admission`.

    Outermost, outside BentoML's own middlewares: a refusal decided inside them
    would already have paid for metrics, tracing and the timeout. Each worker
    builds its model routes' handlers over its BentoML APIs, and the
    :class:`ModelEdge` that answers them. The tenants file is read here, at
    import, so a bad one stops the start with one line.

    Returns:
        The worker's pieces, filled in when BentoML builds the worker's app.
    """
    tenants = load_tenants(settings)
    worker = Worker()

    def wrap(app: ASGIApp, factory: Any) -> Admission:
        apis = BentoApis(factory)
        built = {key: build(apis, settings) for key, build in handlers.items()}
        model_edge = ModelEdge(built, settings, RequestSeries(app), on_classified)
        edge: ModelServe = traced(model_edge) if settings.tracing else model_edge
        worker.admission = Admission(app, settings, routes, edge, tenants=tenants)
        worker.handlers, worker.edge = built, model_edge
        return worker.admission

    wrap_asgi_app(service, wrap)
    return worker

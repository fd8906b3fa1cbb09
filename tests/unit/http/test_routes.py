from __future__ import annotations

import pytest

from sentiment.http.routes import (
    JOB,
    OPEN,
    UPLOAD,
    V2_INFER,
    RouteTable,
    model_route,
)

LIVE = "v7"
CLASSIFY, EXPLAIN, INFER = (model_route(k) for k in ("/classify", "/explain", V2_INFER))


def table() -> RouteTable:
    return RouteTable(
        ["/classify", "/explain", V2_INFER],
        ["/classify_file"],
        "sentiment",
        lambda: LIVE,
        ["/static_content/index.css"],
    )


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/classify", CLASSIFY),
        ("/explain", EXPLAIN),
        ("/v2/models/sentiment/infer", INFER),
        ("/v2/models/sentiment/versions/v7/infer", INFER),
        ("/classify_file", UPLOAD),
        ("/classify_file/submit", UPLOAD),
        ("/classify_file/status", JOB),
        ("/classify_file/get", JOB),
        ("/classify_file/cancel", JOB),
        ("/metrics", OPEN),
        ("/ui", OPEN),
        ("/v2/models/sentiment/versions/v7", OPEN),
        ("/static_content/index.css", OPEN),
    ],
)
def test_known_paths_are_found_with_their_rules(path: str, route: object) -> None:
    assert table().find(path) == route


@pytest.mark.parametrize(
    "path",
    [
        "/classify\n",
        "/classify\r\n",
        "/classify/",
        "//classify",
        "/Classify",
        "/classify\x00",
        "/v2/models/sentiment/infer\n",
        "/v2/models/other/infer",
        "/v2/models/sentiment/versions/v6/infer",
        "/v2/models/sentiment/versions/v7/infer/x",
        "/v2/models/sentiment/versions/v7/infer\n",
        "/v2/models/sentiment/versions//infer",
        "/static_content/other.js",
        "/static_content/../service.py",
        "",
    ],
)
def test_anything_not_exactly_a_route_is_unknown(path: str) -> None:
    assert table().find(path) is None


def test_each_model_route_carries_its_handler_and_role() -> None:
    routes = table()
    handlers = {r.handler for r in routes.exact.values() if r.model}
    assert handlers == {"/classify", "/explain", V2_INFER}
    assert all(
        routes.find(p).serves  # type: ignore[union-attr]
        == "online"
        for p in ("/classify", "/explain")
    )
    assert routes.find("/classify_file/status").serves == "jobs"  # type: ignore[union-attr]
    assert routes.find("/metrics").serves == "any"  # type: ignore[union-attr]


def test_v2_infer_is_a_model_route_only_when_listed() -> None:
    routes = RouteTable(["/classify"], [], "sentiment", lambda: LIVE)
    assert routes.find("/v2/models/sentiment/infer") is None
    assert routes.find("/v2/models/sentiment/versions/v7/infer") is None
    assert routes.find("/v2/models/sentiment/versions/v7") == OPEN


def test_the_table_matches_the_routes_bentoml_builds() -> None:
    """Canary: BentoML's own routes for this service are all in the table."""
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    import service

    app = service.SERVICE.to_asgi(is_main=True)
    while not isinstance(app, Starlette):
        app = app.app
    routes = service.route_table(
        service.SERVICE, service.MODEL_ROUTES, "sentiment", lambda: ""
    )
    for route in app.routes:
        if isinstance(route, Route):
            assert routes.find(route.path) is not None, route.path
        elif isinstance(route, Mount):
            assert route.path == "/static_content", route.path
    assert routes.find("/static_content/swagger-ui.css") == OPEN


def test_the_model_routes_are_the_services_model_apis_and_v2_infer() -> None:
    """One list: every model route but V2's is a BentoML API of the service."""
    import service

    apis = {api.route for api in service.SERVICE.apis.values() if not api.is_task}
    assert set(service.MODEL_ROUTES) == apis | {V2_INFER}

from __future__ import annotations

import pytest

from sentiment.http.routes import (
    JOB,
    MODEL,
    OPEN,
    UPLOAD,
    RouteTable,
    default_table,
    tracing_options,
)

LIVE = "v7"


def table() -> RouteTable:
    return RouteTable(
        ["/classify", "/explain"],
        ["/classify_file"],
        "sentiment",
        lambda: LIVE,
        ["/static_content/index.css"],
    )


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/classify", MODEL),
        ("/explain", MODEL),
        ("/v2/models/sentiment/infer", MODEL),
        ("/v2/models/sentiment/versions/v7/infer", MODEL),
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


def test_the_default_table_has_no_versioned_paths() -> None:
    routes = default_table("sentiment")
    assert routes.find("/classify") == MODEL
    assert routes.find("/v2/models/sentiment/versions/x/infer") is None


def test_the_table_matches_the_routes_bentoml_builds() -> None:
    """Canary: BentoML's own routes for this service are all in the table."""
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    import service

    app = service.SERVICE.to_asgi(is_main=True)
    while not isinstance(app, Starlette):
        app = app.app
    routes = service.route_table(service.SERVICE, "sentiment", lambda: "")
    for route in app.routes:
        if isinstance(route, Route):
            assert routes.find(route.path) is not None, route.path
        elif isinstance(route, Mount):
            assert route.path == "/static_content", route.path
    assert routes.find("/static_content/swagger-ui.css") == OPEN


def test_the_model_routes_are_traced_only_when_asked() -> None:
    assert tracing_options(True) == {}
    untraced = tracing_options(False)["excluded_urls"]
    assert untraced == ["/classify", "/explain", "/v2/models"]

"""The Open Inference Protocol's (KServe V2, REST) health and metadata routes.

MLServer, KServe and Triton clients speak it. :class:`OpenInference` answers
the health, server and model metadata endpoints; inference (``POST
/v2/models/{name}/infer``) is a model route, answered on the edge's one path by
:class:`sentiment.http.handlers.V2Infer`. Errors are ``{"error": "..."}``: 404
for another model or version, 405 for another method.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sentiment.http.answers import json_compact
from sentiment.http.v2_codec import PROTOCOL_VERSION, model_metadata

MODEL_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?")


class OpenInference:
    """ASGI middleware: the V2 REST health and metadata endpoints.

    Args:
        app: the rest of the stack.
        model_name: the name clients use (``SENTIMENT_MODEL_NAME``).
        live_tag: the tag of the model serving now (empty before it loads).
    """

    def __init__(
        self,
        app: ASGIApp,
        model_name: str,
        live_tag: Callable[[], str],
    ) -> None:
        self.app = app
        self.model_name = model_name
        self.live_tag = live_tag

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer /v2 paths; pass everything else through."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/v2" or path.startswith("/v2/")):
            return await self.app(scope, receive, send)
        method = scope["method"]
        if path == "/v2/health/live" and method == "GET":
            return await answer(scope, receive, send, {"live": True})
        if path == "/v2/health/ready" and method == "GET":
            ready = bool(self.live_tag())
            return await answer(
                scope, receive, send, {"ready": ready}, 200 if ready else 503
            )
        if path == "/v2" and method == "GET":
            body = {
                "name": "sentiment_classifier",
                "version": PROTOCOL_VERSION,
                "extensions": [],
            }
            return await answer(scope, receive, send, body)
        match = MODEL_PATH.fullmatch(path)
        if match is None:
            return await answer(
                scope, receive, send, {"error": f"no such endpoint: {path}"}, 404
            )
        name, version, action = match.groups()
        tag = self.live_tag()
        live_version = tag.partition(":")[2]
        if name != self.model_name or (version and version != live_version):
            message = unknown_model(name, version, self.model_name, live_version)
            return await answer(scope, receive, send, {"error": message}, 404)
        if action == "/ready" and method == "GET":
            return await answer(
                scope, receive, send, {"name": name, "ready": bool(tag)}
            )
        if action is None and method == "GET":
            return await answer(
                scope, receive, send, model_metadata(name, live_version)
            )
        return await answer(
            scope, receive, send, {"error": f"{method} {path} is not allowed"}, 405
        )


async def answer(
    scope: Scope,
    receive: Receive,
    send: Send,
    payload: dict[str, Any],
    status: int = 200,
) -> None:
    """Send a JSON answer, rendered as V2 infer's (:func:`answers.json_compact`)."""
    response = Response(json_compact(payload), status, media_type="application/json")
    await response(scope, receive, send)


def unknown_model(name: str, version: str | None, serves: str, live: str) -> str:
    """Why model ``name`` (at ``version``) is not here: REST's 404, gRPC's NOT_FOUND."""
    wanted = f"{name}" + (f" version {version}" if version else "")
    return f"model {wanted} not found: this server serves {serves} version {live}"

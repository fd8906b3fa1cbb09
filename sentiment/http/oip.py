"""The Open Inference Protocol (KServe V2, REST) in front of ``/classify``.

MLServer, KServe and Triton clients speak it. :class:`OpenInference` answers
the health and metadata endpoints itself and turns ``POST
/v2/models/{name}/infer`` into a ``/classify`` request on the way in and the
answer into V2 output tensors on the way out (:mod:`sentiment.http.v2_codec`),
so an inference request goes through the same admission, guard, review rules,
adaptive batching, prediction log and metrics as ``/classify``.

Errors are ``{"error": "..."}``: 400 for a bad tensor or a review that breaks a
rule (named with its index), 404 for another model, 400 for the binary tensor
extension, which is not implemented.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment import leases
from sentiment.asgi import read_body, replay, rewrite_response
from sentiment.errors import TensorError
from sentiment.http.v2_codec import (
    BINARY_REFUSAL,
    PROTOCOL_VERSION,
    classify_error,
    infer_response,
    model_metadata,
    parse_infer,
)

MODEL_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?")
# What a /classify answer keeps when it becomes a V2 answer.
KEPT_HEADERS = (b"x-model-version", b"x-request-id", b"retry-after", b"connection")


class OpenInference:
    """ASGI middleware: the V2 REST endpoints, inference through ``/classify``.

    Args:
        app: the rest of the stack (the guard, then BentoML's ``/classify``).
        model_name: the name clients use (``SENTIMENT_MODEL_NAME``).
        live_tag: the tag of the model serving now (empty before it loads).
        max_body_bytes: larger request bodies are refused with 413.
    """

    def __init__(
        self,
        app: ASGIApp,
        model_name: str,
        live_tag: Callable[[], str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.model_name = model_name
        self.live_tag = live_tag
        self.max_body_bytes = max_body_bytes

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
            wanted = f"{name}" + (f" version {version}" if version else "")
            message = (
                f"model {wanted} not found: this server serves "
                f"{self.model_name} version {live_version}"
            )
            return await answer(scope, receive, send, {"error": message}, 404)
        if action == "/infer" and method == "POST":
            return await self.infer(scope, receive, send, live_version)
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

    async def infer(
        self, scope: Scope, receive: Receive, send: Send, version: str
    ) -> None:
        """Translate to /classify, pass down the stack, translate the answer."""
        headers = dict(scope.get("headers", []))
        if b"inference-header-content-length" in headers:
            return await answer(scope, receive, send, {"error": BINARY_REFUSAL}, 400)
        read = await read_body(receive, self.max_body_bytes)
        body = read.data
        if read.over:
            message = f"request body must be at most {self.max_body_bytes} bytes"
            return await answer(scope, receive, send, {"error": message}, 413)
        try:
            request = parse_infer(body)
        except TensorError as error:
            return await answer(
                scope, receive, send, {"error": str(error)}, error.status
            )
        lease = leases.current()
        if request.timeout_us is not None and lease is not None:
            lease.tighten(time.monotonic() + request.timeout_us / 1e6)
        classify_body = json.dumps({"texts": request.texts}).encode()
        classify_scope = {
            **scope,
            "path": "/classify",
            "raw_path": b"/classify",
            "headers": [
                (k, v)
                for k, v in scope.get("headers", [])
                if k not in (b"content-length", b"content-type")
            ]
            + [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(classify_body)).encode()),
            ],
        }

        def translate(start: Message, body: bytes) -> tuple[Message, bytes]:
            if start["status"] == 200:
                payload = infer_response(
                    json.loads(body), request, self.model_name, version
                )
            else:
                payload = {"error": classify_error(body)}
            kept = [
                (k, v) for k, v in start.get("headers", []) if k.lower() in KEPT_HEADERS
            ]
            headers = [*kept, (b"content-type", b"application/json")]
            return {**start, "headers": headers}, json_bytes(payload)

        await self.app(
            classify_scope,
            replay(classify_body, receive),
            rewrite_response(send, lambda _status: True, translate),
        )


def json_bytes(payload: dict[str, Any]) -> bytes:
    """JSON as Starlette's JSONResponse renders it (compact, UTF-8)."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")


async def answer(
    scope: Scope,
    receive: Receive,
    send: Send,
    payload: dict[str, Any],
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a JSON answer."""
    response = JSONResponse(payload, status_code=status)
    response.raw_headers.extend(headers or [])
    await response(scope, receive, send)

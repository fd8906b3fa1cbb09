"""Operator endpoints: which model is live, and the corrected API spec."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send


class OperatorEndpoints:
    """Answers ``GET /model-info`` and a corrected ``GET /docs.json``.

    ``/model-info`` shows which model is live (tag, training time, held-out
    metrics); ``/docs.json`` is BentoML's spec with the real error bodies.
    """

    def __init__(
        self,
        app: ASGIApp,
        model_info: Callable[[], dict[str, Any]],
        spec: Callable[[], dict[str, Any]],
    ) -> None:
        self.app = app
        self.model_info = model_info
        self.spec = spec
        self.spec_body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the two GET endpoints; pass everything else through."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        response: Response
        if scope["path"] == "/model-info":
            response = JSONResponse(self.model_info())
        elif scope["path"] == "/docs.json":
            if self.spec_body is None:
                self.spec_body = json.dumps(self.spec()).encode()
            response = Response(self.spec_body, media_type="application/json")
        else:
            return await self.app(scope, receive, send)
        await response(scope, receive, send)

"""Operator endpoints: which model is live, the corrected API spec, the page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

UI_PAGE = Path(__file__).parent / "static" / "ui.html"
# The page carries its script and style inline and loads nothing from elsewhere:
# it works offline and inside the image, and the browser enforces that it does.
UI_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:; form-action 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class OperatorEndpoints:
    """Answers ``GET /model-info``, a corrected ``GET /docs.json`` and ``GET /ui``.

    ``/model-info`` shows which model is live (tag, training time, held-out
    metrics); ``/docs.json`` is BentoML's spec with the real error bodies;
    ``/ui`` is a page for people (``sentiment/http/static/ui.html``), which calls
    ``/explain`` and the file jobs with the same API key rules as any client.
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
        self.page = UI_PAGE.read_bytes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the two GET endpoints; pass everything else through."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        response: Response
        if scope["path"] == "/model-info":
            response = JSONResponse(self.model_info())
        elif scope["path"] == "/ui":
            headers = {
                "Content-Security-Policy": UI_POLICY,
                "Cache-Control": "no-cache",
            }
            response = Response(self.page, media_type="text/html", headers=headers)
        elif scope["path"] == "/docs.json":
            if self.spec_body is None:
                self.spec_body = json.dumps(self.spec()).encode()
            response = Response(self.spec_body, media_type="application/json")
        else:
            return await self.app(scope, receive, send)
        await response(scope, receive, send)

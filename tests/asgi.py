"""One in-process ASGI driver for middleware unit tests: no server, no model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


@dataclass
class FakeApp:
    """The app behind a middleware: reads the whole body, answers a fixed response."""

    status: int = 200
    body: bytes = b"[]"
    seen: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        received = b""
        while True:
            message = await receive()
            received += message.get("body", b"")
            if not message.get("more_body", False):
                break
        self.seen.append(received)
        headers = [(b"content-length", str(len(self.body)).encode())]
        await send(
            {"type": "http.response.start", "status": self.status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": self.body})


@dataclass
class Exchange:
    """What a client got back, and how much of its body the middleware read."""

    status: int
    headers: dict[bytes, bytes]
    body: bytes
    chunks_read: int


def request(
    app: ASGIApp,
    body: bytes = b'{"texts": ["fine film"]}',
    headers: dict[bytes, bytes] | None = None,
    method: str = "POST",
    path: str = "/classify",
    chunk_size: int | None = None,
) -> Exchange:
    """Send one HTTP request through ``app`` and collect the response."""
    size = chunk_size or max(len(body), 1)
    pieces = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages: list[Message] = [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]
    read = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal read
        if read < len(messages):
            read += 1
            return messages[read - 1]
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    all_headers = {b"content-type": b"application/json", **(headers or {})}
    scope: dict[str, Any] = {
        "type": "http",
        "method": method,
        "path": path,
        "headers": list(all_headers.items()),
    }
    asyncio.run(app(scope, receive, send))
    start = sent[0]
    return Exchange(
        status=start["status"],
        headers=dict(start.get("headers", [])),
        body=b"".join(m.get("body", b"") for m in sent[1:]),
        chunks_read=read,
    )


def admission_for(app: ASGIApp, settings: Any, **options: Any) -> Any:
    """An :class:`~sentiment.http.admission.Admission` whose edge is ``app``.

    The model routes' handlers are replaced by ``app`` itself (a fake that
    reads the body and answers), so admission is tested without a model.
    """
    from sentiment.http.admission import Admission
    from sentiment.http.routes import V2_INFER, RouteTable

    async def edge(scope: Scope, receive: Receive, send: Send, *_: Any) -> None:
        await app(scope, receive, send)

    routes = RouteTable(
        ["/classify", "/explain", V2_INFER],
        ["/classify_file"],
        settings.model_name,
        lambda: "",
    )
    return Admission(app, settings, routes, edge, **options)

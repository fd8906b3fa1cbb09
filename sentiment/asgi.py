"""ASGI plumbing the layers share: a capped body read, replayed, a response rewritten.

A leaf: it imports nothing from the package, so the jobs layer and the HTTP edge
read and rewrite bodies the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Message, Receive, Send


@dataclass(frozen=True)
class Body:
    """A request body read under a cap.

    Attributes:
        data: the body (empty when it passed the cap).
        over: more than the cap arrived.
        stopped: reading stopped before the end (past the drain limit).
        disconnected: the client left first.
    """

    data: bytes
    over: bool = False
    stopped: bool = False
    disconnected: bool = False


async def read_body(receive: Receive, limit: int, drain_to: int = 0) -> Body:
    """Read a request body, counted as it streams (chunked bodies declare no size).

    Past ``limit`` bytes the rest is read and dropped up to ``drain_to`` bytes, so
    a client that sends its whole body before reading gets the refusal rather
    than a reset connection; reading stops once past ``max(limit, drain_to)``.
    """
    stop_after = max(limit, drain_to)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            over = size > limit
            return Body(b"" if over else b"".join(chunks), over, disconnected=True)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
        if size > stop_after:
            return Body(b"", over=True, stopped=True)
    if size > limit:
        return Body(b"", over=True)
    return Body(b"".join(chunks))


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the already-read body once, then defers."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive_again


def rewrite_response(
    send: Send,
    buffered: Callable[[int], bool],
    rewrite: Callable[[Message, bytes], tuple[Message, bytes]],
) -> Send:
    """Wrap ``send`` so a response can be changed before it leaves.

    Responses whose status ``buffered`` selects are collected whole, passed to
    ``rewrite`` (which returns the start and body to send) and sent with the new
    body's length; the others stream through untouched.
    """
    start: Message = {}
    chunks: list[bytes] = []

    async def send_rewritten(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            if not buffered(start["status"]):
                await send(message)
            return
        if not buffered(start["status"]):
            return await send(message)
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        new_start, body = rewrite(start, b"".join(chunks))
        await send(with_length(new_start, body))
        await send({"type": "http.response.body", "body": body})

    return send_rewritten


def with_length(start: Message, body: bytes) -> Message:
    """A response start declaring ``body``'s length."""
    headers = [
        (key, value)
        for key, value in start.get("headers", [])
        if key.lower() != b"content-length"
    ]
    headers.append((b"content-length", str(len(body)).encode()))
    return {**start, "headers": headers}

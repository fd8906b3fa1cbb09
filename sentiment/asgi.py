"""ASGI plumbing the layers share: a body read, drained, replayed; a response rewritten.

A leaf: it imports nothing from the package, so the jobs layer and the HTTP edge
read and rewrite bodies the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Message, Receive, Send


@dataclass(frozen=True)
class Body:
    """A request body read under a cap.

    Attributes:
        data: the body (empty when it passed the cap).
        over: more than the cap arrived.
        stopped: reading stopped before the end: the rest is for :func:`drain`.
        disconnected: the client left first.
    """

    data: bytes
    over: bool = False
    stopped: bool = False
    disconnected: bool = False


async def read_body(receive: Receive, limit: int) -> Body:
    """Read a request body, counted as it streams (chunked bodies declare no size).

    Reading stops as soon as more than ``limit`` bytes arrived.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            over = size > limit
            return Body(b"" if over else b"".join(chunks), over, disconnected=True)
        chunk = message.get("body", b"")
        size += len(chunk)
        more = message.get("more_body", False)
        if size > limit:
            return Body(b"", over=True, stopped=more)
        chunks.append(chunk)
        if not more:
            return Body(b"".join(chunks))


DRAIN_BYTES = 32 << 20  # the most of a refused body read and dropped (ms on a LAN)
DRAIN_S = 5.0  # and for at most this long


async def drain(
    receive: Receive,
    declared: bytes = b"",
    expects_continue: bool = False,
    max_bytes: int = DRAIN_BYTES,
    max_s: float = DRAIN_S,
) -> bool:
    """Read and drop the rest of a refused request's body; whether it all came.

    The one drain of every refusal sent while a body may still be arriving. A
    client that sends its whole body before reading (curl, http.client, requests)
    otherwise gets a reset connection instead of the answer: closing a socket
    with unread bytes resets it. Call it *before* sending the refusal (uvicorn
    answers ``receive`` with a disconnect once a response is complete); when it
    returns False the refusal must close the connection (``Connection: close``),
    since what is left of the body would be read as the next request.

    Bounded: at most ``max_bytes`` (a body declaring more is not read at all)
    and ``max_s``, nothing kept. A client waiting for ``100 Continue`` before
    sending its body is not asked for it (``expects_continue``, only while
    nothing of the body was read): it reads the refusal and sends nothing.
    """
    if expects_continue or (declared.isdigit() and int(declared) > max_bytes):
        return False
    size = 0
    try:
        async with asyncio.timeout(max_s):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return False
                if not message.get("more_body", False):
                    return True
                size += len(message.get("body", b""))
                if size > max_bytes:
                    return False
    except TimeoutError:
        return False


class Reading:
    """A ``receive`` that notes whether the body was read to its end.

    So a refusal decided part-way knows whether there is anything to drain:
    :func:`drain` after the end would wait for a message that never comes.
    """

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.ended = False

    async def __call__(self) -> Message:
        """The next message, noted."""
        message = await self.receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self.ended = True
        return message


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

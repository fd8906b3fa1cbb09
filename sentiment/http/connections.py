"""Spread keep-alive clients over the workers by closing one connection in N."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Recycling:
    """The worker's count of answers: every ``every``-th asks its client to reconnect.

    BentoML 1.4 workers share one listening socket without ``SO_REUSEPORT``, so a
    burst of new keep-alive connections lands on whichever worker wakes first and
    stays there (we measured 64 of 64 connections on one of two workers). Closing
    one connection in ``every`` lets clients reconnect to the less busy worker.
    One count for both ways an answer leaves (the stack's
    :class:`ConnectionRecycler` and :mod:`sentiment.http.direct`). 0: never.
    """

    def __init__(self, every: int) -> None:
        self.every = every
        self.responses = 0

    def due(self) -> bool:
        """Count one answer; whether it should close its connection."""
        if not self.every:
            return False
        self.responses += 1
        return not self.responses % self.every


class ConnectionRecycler:
    """Adds ``Connection: close`` to the answers :class:`Recycling` says are due."""

    def __init__(self, app: ASGIApp, recycling: Recycling) -> None:
        self.app = app
        self.recycling = recycling

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; when its answer is due, add ``Connection: close``."""
        if scope["type"] != "http" or not self.recycling.due():
            return await self.app(scope, receive, send)

        async def send_with_close(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_with_close)

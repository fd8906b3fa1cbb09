"""Spread keep-alive clients over the workers by closing one connection in N."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ConnectionRecycler:
    """Every ``every``-th response asks its client to reconnect (0: off).

    BentoML 1.4 workers share one listening socket without ``SO_REUSEPORT``, so a
    burst of new keep-alive connections lands on whichever worker wakes first and
    stays there (we measured 64 of 64 connections on one of two workers). Closing
    one connection in ``every`` lets clients reconnect to the less busy worker.
    """

    def __init__(self, app: ASGIApp, every: int) -> None:
        self.app = app
        self.every = every
        self.responses = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; on every ``every``-th add ``Connection: close``."""
        if scope["type"] != "http" or not self.every:
            return await self.app(scope, receive, send)
        self.responses += 1
        if self.responses % self.every:
            return await self.app(scope, receive, send)

        async def send_with_close(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_with_close)

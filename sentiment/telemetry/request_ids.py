"""Request IDs: on every response, in error bodies, in the logs.

:class:`RequestIds` is the outermost of the service's own middlewares. It takes
the client's ``X-Request-ID`` when it is valid (1-128 characters of
``[A-Za-z0-9._-]``), makes a fresh one otherwise, puts it in
:data:`REQUEST_ID` (a context variable that error bodies, the prediction log and
the service's log lines read), returns it as ``X-Request-ID`` on every response,
refusals included, and writes the access log line when that log is on.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import re
import secrets
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
VALID_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sentiment_request_id", default=None
)
access_logger = logging.getLogger("bentoml.service.sentiment.access")
_PREFIX = secrets.token_hex(8)
_COUNTER = itertools.count()


def _new_prefix() -> None:
    """A forked worker must not repeat its parent's IDs."""
    global _PREFIX, _COUNTER
    _PREFIX, _COUNTER = secrets.token_hex(8), itertools.count()


os.register_at_fork(after_in_child=_new_prefix)


def fresh_id() -> str:
    """A new request ID: 32 hex characters, unique per process and across them.

    A random per-process prefix and a counter: ``uuid4`` reads the OS's random
    source on every call, which was 3-4% of a worker's time when it refused
    thousands of requests a second.
    """
    return f"{_PREFIX}{next(_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"


def client_request_id(value: bytes) -> bytes:
    """``value`` if it is a valid ``X-Request-ID``, else ``b""``.

    The one rule for a client's ID: 1-128 letters, digits, ``.``, ``_`` or ``-``
    (nothing a log line or a header could be split on).
    """
    return value if VALID_ID.fullmatch(value) else b""


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's request ID if valid, else a fresh one (32 hex characters)."""
    for name, value in headers:
        if name.lower() == HEADER:
            if valid := client_request_id(value):
                return valid.decode()
            break
    return fresh_id()


def current_request_id() -> str | None:
    """The ID of the request being served, or None outside a request."""
    return REQUEST_ID.get()


class RequestIds:
    """Give every HTTP request an ID, echo it on the response, log access.

    Args:
        app: the ASGI app to wrap.
        access_log: write one line per request (``bentoml.service.sentiment.access``).
    """

    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag the request and its response with the request ID."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = request_id_from(scope["headers"])
        token = REQUEST_ID.set(request_id)
        header = (HEADER, request_id.encode())
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.access_log:
                log_access(scope, status, started, request_id)
            REQUEST_ID.reset(token)


def log_access(scope: Scope, status: int, started: float, request_id: str) -> None:
    """The access log's line for one answered request (``started``: perf_counter)."""
    access_logger.info(
        "%s %s %s %.1fms",
        scope["method"],
        scope["path"],
        status,
        (time.perf_counter() - started) * 1000,
        extra={"request_id": request_id},
    )

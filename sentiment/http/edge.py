"""The one request path of the model's routes: read the body, handle, answer.

Behind admission (:mod:`sentiment.http.admission`), every ``POST`` to a model
route comes here, outside BentoML's request stack: :class:`ModelEdge` reads
the body under the cap, gives it to the route's handler
(:mod:`sentiment.http.handlers`) and writes what every answer carries, in one
place (:meth:`ModelEdge.send`): the ``X-Request-ID``, ``X-Model-Version`` on a
200, ``Connection: close`` on every Nth answer (:class:`Recycling`), BentoML's
own ``bentoml_service_request_*`` series, the access log line, the rejection
counter and the prediction log.

A body over ``SENTIMENT_MAX_BODY_BYTES`` (declared, or found while it streams)
is drained (:func:`sentiment.asgi.drain`: the rest read and dropped, bounded),
so a client that sends its whole body before reading (curl, urllib, requests,
httpx) reads the 413 instead of a reset connection; past the drain's bound the
413 closes its connection. The whole request has ``SENTIMENT_TIMEOUT_S``, as
BentoML's timeout gives its own routes: a stalled body must not hold its
admission slot for as long as the connection stays open.

A client's mistake is one access-log line and a counter; only a failure of the
server's own is logged with its traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from starlette.types import Receive, Scope, Send

from sentiment.asgi import drain, read_body
from sentiment.config import Settings
from sentiment.http.answers import Answer, Problem
from sentiment.http.handlers import Handler
from sentiment.http.headers import RequestHeaders
from sentiment.http.refusals import CLOSE
from sentiment.lifecycle import live
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import REJECTIONS
from sentiment.telemetry.request_ids import HEADER as REQUEST_ID_HEADER
from sentiment.telemetry.request_ids import REQUEST_ID, fresh_id, log_access

# request ID, request, response, the tag of the model that answered
Classified = Callable[[str, bytes, bytes, str], None]
# BentoML's request series of a path (sentiment.patches.RequestSeries)
Series = Callable[[str], Any]

MODEL_HEADER = b"x-model-version"
CLIENT_GONE = 499  # nginx's status for a client that left before its answer
JSON_TYPE = (b"content-type", b"application/json")
logger = logging.getLogger(SERVICE_LOGGER)


class Recycling:
    """The worker's count of answers: every ``every``-th asks its client to reconnect.

    BentoML 1.4 workers share one listening socket without ``SO_REUSEPORT``, so a
    burst of new keep-alive connections lands on whichever worker wakes first and
    stays there (we measured 64 of 64 connections on one of two workers). Closing
    one connection in ``every`` lets clients reconnect to the less busy worker.
    0: never.
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


class ModelEdge:
    """Answers the model's routes (module docstring).

    Args:
        handlers: each model route's handler, by the route's handler key.
        settings: the body cap, the timeout, recycling, the access log.
        series: BentoML's request series of a path (``patches.RequestSeries``).
        on_classified: the prediction log's hook (None: no log).
    """

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        settings: Settings,
        series: Series,
        on_classified: Classified | None = None,
    ) -> None:
        self.handlers = handlers
        self.series = series
        self.on_classified = on_classified
        self.max_body = settings.max_body_bytes
        self.timeout_s = settings.timeout_s
        self.access_log = settings.access_log
        self.recycling = Recycling(settings.recycle_every)
        self.too_large = f"request body must be at most {self.max_body} bytes"
        self.timed_out = f"Not able to process the request in {self.timeout_s} seconds"

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: RequestHeaders,
        handler_key: str,
    ) -> None:
        """Serve one model request: its ID set, counted, timed and logged."""
        handler = self.handlers[handler_key]
        request_id = headers.request_id.decode() if headers.request_id else fresh_id()
        token = REQUEST_ID.set(request_id)
        series = self.series(scope["path"])
        started = series.started()
        status = 500
        try:
            answer = await self.answer(handler, scope, receive, headers)
            status = answer.status
            if status != CLIENT_GONE:
                await self.send(send, answer, request_id)
        finally:
            series.finished(status, started)
            if self.access_log:
                log_access(scope, status, started, request_id)
            REQUEST_ID.reset(token)

    async def answer(
        self, handler: Handler, scope: Scope, receive: Receive, headers: RequestHeaders
    ) -> Answer:
        """The handler's answer to the body, or the refusal in its error shape."""
        declared = headers.content_length
        if declared.isdigit() and int(declared) > self.max_body:
            ended = await drain(receive, declared, headers.expects_continue)
            return self.body_too_large(handler, ended)
        try:
            async with asyncio.timeout(self.timeout_s):
                body = await read_body(receive, self.max_body)
                if body.disconnected and not body.over:
                    return Answer(CLIENT_GONE, b"")
                if not body.over:
                    return await handler(body.data, scope)
        except Problem as problem:
            return handler.errors.render(problem)
        except TimeoutError:  # the body stalled, or the request took too long
            return self.refuse(handler, 504, "timeout", self.timed_out, CLOSE)
        except Exception:
            logger.exception("%s %s failed", scope["method"], scope["path"])
            return self.refuse(
                handler,
                500,
                "internal_error",
                "an unexpected error occurred, see the server log",
            )
        # over the cap while it streamed: the rest drains outside the timeout
        ended = not body.stopped or await drain(receive)
        return self.body_too_large(handler, ended and not body.disconnected)

    def body_too_large(self, handler: Handler, ended: bool) -> Answer:
        """413; it closes the connection unless the body was read to its end."""
        close = () if ended else (CLOSE,)
        return self.refuse(handler, 413, "body_too_large", self.too_large, *close)

    @staticmethod
    def refuse(
        handler: Handler,
        status: int,
        rule: str,
        message: str,
        *headers: tuple[bytes, bytes],
    ) -> Answer:
        """The edge's own refusal, in the handler's error shape."""
        return handler.errors.render(Problem(status, rule, message, None, headers))

    async def send(self, send: Send, answer: Answer, request_id: str) -> None:
        """Send ``answer`` with what every answer carries; log a 200's prediction."""
        response_headers = [JSON_TYPE, (b"content-length", b"%d" % len(answer.body))]
        tag = ""
        if answer.status == 200:
            tag = live.active_tag()
            response_headers.append((MODEL_HEADER, tag.encode()))
        response_headers += [(REQUEST_ID_HEADER, request_id.encode()), *answer.headers]
        if self.recycling.due() and CLOSE not in answer.headers:
            response_headers.append(CLOSE)
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": response_headers,
            }
        )
        await send({"type": "http.response.body", "body": answer.body})
        for rule in answer.rules:
            REJECTIONS.labels(rule=rule).inc()
        self.log_prediction(request_id, answer.logged, tag)

    def log_prediction(
        self, request_id: str, logged: tuple[bytes, bytes] | None, tag: str
    ) -> None:
        """Hand an answered request to the prediction log, when it is on.

        The one way in for both transports: :meth:`send` here, gRPC's
        ``ModelInfer`` (:mod:`sentiment.rpc.servicer`).
        """
        if logged is not None and self.on_classified is not None:
            self.on_classified(request_id, *logged, tag)

"""``POST /classify`` answered at the edge when its body is plainly valid.

Most of a served request's cost outside the model was BentoML's request path,
not the model: Starlette's routing, a dozen middlewares each wrapping
``receive`` and ``send``, the IO descriptor, pydantic's check of every text,
the response object (bench/results/bulk.md, the CPU of the event loop). Behind
admission, :class:`DirectClassify` takes a ``/classify`` request whose body is
exactly ``{"texts": [...]}`` with 1 to ``max_texts`` strings that all keep the
review rules, and answers it itself: one orjson parse, the rules over the whole
batch at once (:func:`sentiment.model.reviews.stripped_if_valid`), the reviews
handed to BentoML's batching dispatcher as its endpoint would hand them
(:func:`sentiment.patches.batch_caller`, so they batch with every other
request's), the answer encoded in one orjson call.

Everything else goes BentoML's way, untouched: a body that is not plainly valid
(any broken rule, wrong type, extra field, bad JSON) is replayed to the full
stack, so every refusal keeps its exact contract (the 400 naming the rule and
the item, the 413, the error shape); so do a chunked body, one over the size
cap, and every request with ``SENTIMENT_DIRECT_CLASSIFY=false``, with
``SENTIMENT_BATCHING=0`` (no dispatcher to hand the reviews to) or with
``SENTIMENT_TRACING=1`` (its spans come from BentoML's path; ``service.py``).
A body that has not arrived within ``SENTIMENT_TIMEOUT_S`` gets BentoML's own
504, as its timeout gives it on the full stack: the read is paced by the
client, and a stalled one would otherwise hold its admission slot for as long
as the connection stays open.

What the stack adds to a served answer is added here the same way: the
``X-Request-ID``, the access log line, ``X-Model-Version``, the prediction log,
``Connection: close`` on every Nth response
(:class:`sentiment.http.connections.Recycling`), and BentoML's own
``bentoml_service_request_*`` series (:class:`sentiment.patches.EndpointMetrics`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from bentoml.exceptions import BentoMLException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sentiment.asgi import read_body, replay
from sentiment.config import Settings
from sentiment.errors import SentimentError
from sentiment.http.connections import Recycling
from sentiment.http.guard import MODEL_HEADER, Classified
from sentiment.http.headers import RequestHeaders
from sentiment.http.refusals import (
    OVERLOAD_RETRY_S,
    Refusal,
    batching_shed_message,
    retry_after,
)
from sentiment.lifecycle import live
from sentiment.model.reviews import stripped_if_valid
from sentiment.patches import (
    BatchCall,
    EndpointMetrics,
    batch_caller,
    metrics_middleware,
)
from sentiment.telemetry.request_ids import (
    HEADER as REQUEST_ID_HEADER,
)
from sentiment.telemetry.request_ids import (
    REQUEST_ID,
    fresh_id,
    log_access,
)

# (BentoML's app, its factory) -> the worker's direct path, None when there is none
DirectPath = Callable[[ASGIApp, Any], "DirectClassify | None"]

ENDPOINT = "/classify"
JSON_TYPE = (b"content-type", b"application/json")
CLOSE = (b"connection", b"close")
logger = logging.getLogger("bentoml.service.sentiment")


class DirectClassify:
    """The direct path for ``POST /classify`` (module docstring).

    Args:
        app: the full stack (BentoML's app), for every request not taken here.
        batch: the ``classify`` API's batched call (``patches.batch_caller``).
        settings: the service's settings (body cap, review count, access log).
        recycling: the every-Nth-response count shared with the stack's recycler.
        on_classified: the prediction log's hook, as the guard's.
    """

    def __init__(
        self,
        app: ASGIApp,
        batch: BatchCall,
        settings: Settings,
        recycling: Recycling,
        on_classified: Classified | None = None,
    ) -> None:
        self.app = app
        self.batch = batch
        self.max_body = settings.max_body_bytes
        self.max_texts = settings.max_texts
        self.access_log = settings.access_log
        self.recycling = recycling
        self.on_classified = on_classified
        self.metrics: EndpointMetrics | None = None
        self.shed = Refusal(
            503,
            "overloaded",
            batching_shed_message(settings.max_latency_ms),
            [retry_after(OVERLOAD_RETRY_S)],
        )
        self.failed = Refusal(
            500, "internal_error", "an unexpected error occurred, see the server log"
        )
        self.timeout_s = settings.timeout_s
        # BentoML's TimeoutMiddleware answer, byte for byte (the stack's contract)
        late = f"Not able to process the request in {settings.timeout_s} seconds"
        self.timed_out = JSONResponse({"error": late}, status_code=504).body

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, headers: RequestHeaders
    ) -> None:
        """Answer a plainly valid body here, hand anything else to the stack."""
        declared = headers.content_length
        if not declared.isdigit() or int(declared) > self.max_body:
            return await self.app(scope, receive, send)  # chunked, or the 413's
        try:
            async with asyncio.timeout(self.timeout_s):  # BentoML's, for the read
                body = await read_body(receive, self.max_body)
        except TimeoutError:  # a stalled body: the 504 the stack's timeout gives
            respond = functools.partial(self.time_out, send)
            return await self.served(scope, headers, respond)
        texts = None if body.over or body.disconnected else self.valid(body.data)
        if texts is None:
            return await self.app(scope, replay(body.data, receive), send)
        await self.served(
            scope, headers, functools.partial(self.answer, send, texts, body.data)
        )

    async def served(
        self,
        scope: Scope,
        headers: RequestHeaders,
        respond: Callable[[str], Awaitable[int]],
    ) -> None:
        """``respond(request_id)`` with the request ID, counted, timed and logged."""
        request_id = headers.request_id.decode() if headers.request_id else fresh_id()
        token = REQUEST_ID.set(request_id)
        metrics = self.metrics or self.bind_metrics()
        started = metrics.started()
        status = 200
        try:
            status = await respond(request_id)
        finally:
            metrics.finished(status, started)
            if self.access_log:
                log_access(scope, status, started, request_id)
            REQUEST_ID.reset(token)

    def valid(self, data: bytes) -> list[str] | None:
        """The stripped texts of a body that is exactly ``{"texts": [...]}``, valid.

        None for anything else, which the full stack then refuses with its
        exact error: this path never decides what is wrong, only that nothing is.
        """
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        if type(payload) is not dict or len(payload) != 1:
            return None
        texts = payload.get("texts")
        if type(texts) is not list or not 0 < len(texts) <= self.max_texts:
            return None
        try:
            return stripped_if_valid(texts)
        except TypeError:  # an item is not a string
            return None

    async def time_out(self, send: Send, request_id: str) -> int:
        """BentoML's 504 for a body that did not arrive in time; the connection closes.

        Closed: the rest of the body may still come, and must not be read as
        the connection's next request.
        """
        response_headers = [
            JSON_TYPE,
            (b"content-length", b"%d" % len(self.timed_out)),
            (REQUEST_ID_HEADER, request_id.encode()),
            CLOSE,
        ]
        await send(
            {"type": "http.response.start", "status": 504, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": self.timed_out})
        return 504

    async def answer(
        self, send: Send, texts: list[str], request: bytes, request_id: str
    ) -> int:
        """Score ``texts`` in the next batch and send the predictions; the status."""
        try:
            predictions = await self.batch(texts)
        except SentimentError as error:  # e.g. its deadline passed in the queue
            return await self.refuse(send, Refusal.of(error), request_id)
        except BentoMLException:  # the dispatcher shed it (BentoML's 503)
            return await self.refuse(send, self.shed, request_id)
        except Exception:
            logger.exception("direct /classify failed")
            return await self.refuse(send, self.failed, request_id)
        answer = orjson.dumps(predictions, option=orjson.OPT_SERIALIZE_NUMPY)
        tag = live.active_tag()
        response_headers = [
            JSON_TYPE,
            (b"content-length", b"%d" % len(answer)),
            (MODEL_HEADER, tag.encode()),
            (REQUEST_ID_HEADER, request_id.encode()),
        ]
        if self.recycling.due():
            response_headers.append(CLOSE)
        await send(
            {"type": "http.response.start", "status": 200, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": answer})
        if self.on_classified is not None:
            self.on_classified(request_id, request, answer, tag)
        return 200

    async def refuse(self, send: Send, refusal: Refusal, request_id: str) -> int:
        """Send ``refusal`` (counted by its rule); its status."""
        await refusal.send(send, request_id.encode())
        return refusal.status

    def bind_metrics(self) -> EndpointMetrics:
        """BentoML's request series for /classify, found once the stack is built."""
        middleware = metrics_middleware(self.app)
        metrics = EndpointMetrics(middleware, ENDPOINT)
        if middleware is not None:
            self.metrics = metrics
        return metrics


def direct_path(
    settings: Settings,
    recycling: Recycling,
    on_classified: Classified | None = None,
    api: str = "classify",
) -> DirectPath | None:
    """Build each worker's :class:`DirectClassify` from BentoML's app and factory.

    None, so every request takes BentoML's path, with
    ``SENTIMENT_DIRECT_CLASSIFY=false`` or ``SENTIMENT_TRACING=1`` (only that
    path makes the spans); the builder gives None when ``api`` does not batch
    (``SENTIMENT_BATCHING=0``), as BentoML's path then calls the API itself.
    """
    if not settings.direct_classify or settings.tracing:
        return None

    def build(app: ASGIApp, factory: Any) -> DirectClassify | None:
        batch = batch_caller(factory, api)
        if batch is None:
            return None
        return DirectClassify(app, batch, settings, recycling, on_classified)

    return build

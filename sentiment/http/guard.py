"""The guard in front of the model's endpoints: refuse early, refuse clearly.

:class:`ClassifyGuard` checks ``POST /classify`` and ``/explain`` before BentoML
parses them, gives BentoML's own refusals the service's error shape, and hands
answered requests to the prediction log. The other middlewares live in
``sentiment.telemetry.request_ids``, ``sentiment.jobs.runner``,
``sentiment.http.operator`` and ``sentiment.http.connections``; ``service.py``
stacks them.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment.asgi import header_value, read_body, replay, rewrite_response
from sentiment.config import Settings
from sentiment.errors import DeadlineExceeded
from sentiment.http.refusals import (
    OVERLOAD_RETRY_S,
    batching_shed_message,
    retry_after,
)
from sentiment.http.schemas import error_payload
from sentiment.lifecycle import live
from sentiment.telemetry.metrics import REJECTIONS
from sentiment.telemetry.request_ids import current_request_id

# request ID, request, response, the tag of the model that answered
Classified = Callable[[str, bytes, bytes, str], None]

MODEL_HEADER = b"x-model-version"
GUARDED_PATHS = frozenset({"/classify", "/explain"})  # V2 infer arrives as /classify
DRAIN_FACTOR = 32  # bodies up to this many times the cap are read, then refused


def error_response(
    status: int, rule: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSON refusal naming the rule, counted by rule in the rejections metric."""
    REJECTIONS.labels(rule=rule).inc()
    return JSONResponse(
        error_payload(rule, message, current_request_id()),
        status_code=status,
        headers=headers,
    )


def as_error_body(status: int, body: bytes) -> bytes:
    """BentoML's error body in the service's ``Error`` shape, with the request ID.

    BentoML answers 400 with ``{"error", "detail"}`` and other 4xx with a list
    ``[{"error": ...}]``; both become ``{"error", "detail", "request_id"}``.
    """
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        message = str(payload[0].get("error", ""))
        payload = error_payload(f"http_{status}", message)
    if isinstance(payload, dict):
        payload["request_id"] = current_request_id()
        return json.dumps(payload).encode()
    return body


class ClassifyGuard:
    """In front of ``POST /classify`` and ``/explain``: refuse early, refuse clearly.

    ``sentiment.http.admission`` has already checked the API key (401), the
    ``Content-Type`` (415) and admitted the request; this checks the body size
    (413). A body over the cap is
    read and discarded up to ``DRAIN_FACTOR`` times the cap first, so a client
    that sends its whole body before reading (urllib, requests, httpx) reads the
    413 instead of a reset connection; a bigger one is answered at once and the
    connection closed. It also gives BentoML's batching 503 (a request that cannot
    meet ``max_latency_ms``) a clear body and ``Retry-After``, the 504 of a request
    its batching queue left out past its deadline the ``deadline_exceeded`` body
    (BentoML answers any 5xx "an unexpected error"), adds the request ID
    to BentoML's 400 bodies, counts 400s by rule, and hands each answered
    ``/classify`` request to ``on_classified`` (the prediction log).
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        on_classified: Classified | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.on_classified = on_classified
        self.drain_limit = settings.max_body_bytes * DRAIN_FACTOR
        self.shed_message = batching_shed_message(settings.max_latency_ms)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Guard /classify; pass everything else through."""
        if not is_guarded(scope):
            return await self.app(scope, receive, send)
        body, refusal = await self.read_body(scope, receive)
        if refusal is not None:
            return await refusal(scope, receive, send)
        log = self.on_classified if scope["path"] == "/classify" else None
        send = self.rewritten_answers(send, body, log)
        await self.app(scope, replay(body, receive), with_model_version(send))

    async def read_body(
        self, scope: Scope, receive: Receive
    ) -> tuple[bytes, JSONResponse | None]:
        """Read the body; over the cap, drain up to the limit and refuse with 413."""
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.drain_limit:
            return b"", self.too_large(close=True)
        body = await read_body(receive, self.settings.max_body_bytes, self.drain_limit)
        if body.over:
            return b"", self.too_large(close=body.stopped)
        return body.data, None

    def too_large(self, close: bool) -> JSONResponse:
        """413 for a body over the cap; ``close`` when the rest was not read."""
        return error_response(
            413,
            "body_too_large",
            f"request body must be at most {self.settings.max_body_bytes} bytes",
            {"Connection": "close"} if close else None,
        )

    def rewritten_answers(
        self, send: Send, request: bytes, log: Classified | None = None
    ) -> Send:
        """Wrap ``send``: clear 503s and 504s, the error shape for 4xx, log 200s."""

        def buffered(status: int) -> bool:
            return status != 200 or log is not None

        def rewrite(start: Message, body: bytes) -> tuple[Message, bytes]:
            status = start["status"]
            if status == 200 and log is not None:
                tag = header_value(start, MODEL_HEADER).decode()
                log(current_request_id() or "", request, body, tag)
            elif status == 503:
                REJECTIONS.labels(rule="overloaded").inc()
                body = json.dumps(
                    error_payload("overloaded", self.shed_message, current_request_id())
                ).encode()
                start = {
                    **start,
                    "headers": [*start["headers"], retry_after(OVERLOAD_RETRY_S)],
                }
            elif status == 504:  # DeadlineExceeded, whose message BentoML hides
                rule = DeadlineExceeded.rule
                REJECTIONS.labels(rule=rule).inc()
                payload = error_payload(
                    rule, DeadlineExceeded.passed, current_request_id()
                )
                body = json.dumps(payload).encode()
            elif status == 400:
                count_validation_errors(body)
                body = as_error_body(status, body)
            elif 400 < status < 500:
                body = as_error_body(status, body)
            return start, body

        return rewrite_response(send, buffered, rewrite)


def with_model_version(send: Send) -> Send:
    """Wrap ``send``: a 200 names the model that answered in ``X-Model-Version``.

    The tag is read when the response starts. Workers swap models between
    batches, so only a response whose batch ran just before a swap can name
    the newer model (a window of one batch).
    """

    async def send_with_version(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] == 200:
            version = live.active_tag().encode()
            headers = [*message.get("headers", []), (MODEL_HEADER, version)]
            message = {**message, "headers": headers}
        await send(message)

    return send_with_version


def count_validation_errors(body: bytes) -> None:
    """Count each rule a 400 body names (pydantic's ``type``)."""
    try:
        detail = json.loads(body).get("detail", [])
        rules = {item["type"] for item in detail if isinstance(item, dict)}
    except (ValueError, AttributeError, KeyError, TypeError):
        rules = {"invalid"}
    for rule in rules or {"invalid"}:
        REJECTIONS.labels(rule=rule).inc()


def is_guarded(scope: Scope) -> bool:
    """Whether a request is a ``POST`` to one of the model's endpoints.

    Exact paths: the edge (``sentiment.http.admission``) has already answered every
    path that is not exactly a route.
    """
    return bool(
        scope["type"] == "http"
        and scope["method"] == "POST"
        and scope["path"] in GUARDED_PATHS
    )

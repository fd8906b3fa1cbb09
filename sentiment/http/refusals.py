"""Refusals rendered once at start: only the request ID changes per request.

The edge answers 400/401/404/413/415/429/503 from these before BentoML reads the
request, so a refusal costs a few microseconds (measured about 40 us of CPU with
uvicorn's parsing, against 600-800 us for a served review). A refusal sent
before its body was read drains the body first (:meth:`Refusal.answer`), so the
client reads it rather than a reset connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from starlette.types import Receive, Send

from sentiment.asgi import drain
from sentiment.config import Settings
from sentiment.errors import SentimentError
from sentiment.http.headers import MAX_TIMEOUT_DIGITS, RequestHeaders
from sentiment.http.overload import REFUSAL_REASONS
from sentiment.http.schemas import error_payload
from sentiment.telemetry.metrics import REJECTIONS
from sentiment.telemetry.request_ids import HEADER as REQUEST_ID_HEADER
from sentiment.telemetry.request_ids import fresh_id

RETRY_AFTER = b"retry-after"
CLOSE = (b"connection", b"close")  # every answer that must end its connection
OVERLOAD_RETRY_S = 1  # an overload refusal: the queue drains within about a second


def batching_shed_message(max_latency_ms: int) -> str:
    """What a client is told when BentoML's batching shed its request (503)."""
    return (
        "server busy: the request could not be served within "
        f"max_latency_ms={max_latency_ms}, retry later"
    )


def retry_after(seconds: int) -> tuple[bytes, bytes]:
    """The ``Retry-After`` header asking a client to wait ``seconds``."""
    return (RETRY_AFTER, b"%d" % seconds)


class Refusal:
    """A refusal rendered once: only the request ID changes per request.

    Its rule, message and extra headers stay readable: gRPC (:mod:`sentiment.rpc`)
    answers the same refusal as a status.
    """

    def __init__(
        self,
        status: int,
        rule: str,
        message: str,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        marker = "\x00"
        rendered = json.dumps(error_payload(rule, message, marker)).encode()
        self.prefix, self.suffix = rendered.split(json.dumps(marker).encode())
        self.status = status
        self.rule, self.message, self.extra = rule, message, tuple(headers)
        self.headers = [(b"content-type", b"application/json"), *self.extra]
        self.counter = REJECTIONS.labels(rule=rule)

    @classmethod
    def of(cls, error: SentimentError) -> Refusal:
        """``error`` as a refusal: its status, its rule, its message."""
        return cls(error.status, error.rule, str(error))

    async def answer(
        self, receive: Receive, send: Send, headers: RequestHeaders
    ) -> None:
        """Refuse a request from its head: its body drained first (:func:`drain`)."""
        ended = await drain(receive, headers.content_length, headers.expects_continue)
        request_id = headers.request_id or fresh_id().encode()
        await self.send(send, request_id, close=not ended)

    async def send(self, send: Send, request_id: bytes, close: bool = False) -> None:
        """Answer with this refusal, tagged with ``request_id``.

        ``close``: the request's body was not read to its end, so the connection
        must close (what is left of it would be read as the next request).
        """
        self.counter.inc()
        body = b'%s"%s"%s' % (self.prefix, request_id, self.suffix)
        headers = [
            *self.headers,
            (b"content-length", b"%d" % len(body)),
            (REQUEST_ID_HEADER, request_id),
        ]
        if close and CLOSE not in headers:
            headers.append(CLOSE)
        await send(
            {"type": "http.response.start", "status": self.status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})


def is_json(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` is JSON (any parameters allowed)."""
    return content_type.split(b";")[0].strip().lower() == b"application/json"


def unsupported_media_type(content_type: bytes) -> Refusal:
    """415 naming the ``Content-Type`` that was sent."""
    return Refusal(
        415,
        "unsupported_media_type",
        "Content-Type must be application/json, got "
        f"{content_type.decode(errors='replace')[:100]!r}",
    )


def bad_timeout(value: bytes) -> Refusal:
    """400 naming the header and the value it carried."""
    return Refusal(
        400,
        "bad_timeout",
        "X-Request-Timeout-Ms must be a whole number of milliseconds from 1 to "
        f"{10**MAX_TIMEOUT_DIGITS - 1}, got {value.decode(errors='replace')[:40]!r}",
    )


@dataclass(frozen=True)
class EdgeRefusals:
    """The edge's fixed refusals, rendered once from the settings.

    ``by_reason``: the answer to each of the admission queue's refusal reasons
    (:data:`sentiment.http.overload.REFUSAL_REASONS`).
    """

    unauthorized: Refusal
    not_found: Refusal
    no_such_model: Refusal
    bad_path: Refusal
    duplicate_header: Refusal
    by_reason: Mapping[str, Refusal]

    @classmethod
    def of(cls, settings: Settings) -> EdgeRefusals:
        """Render every one of them for ``settings``."""
        retry = [retry_after(OVERLOAD_RETRY_S)]
        overloaded = Refusal(
            503,
            "overloaded",
            "server busy: the request could not be served within "
            f"max_queue_wait_ms={settings.max_queue_wait_ms}, retry later",
            retry,
        )
        tenant_and_deadline = {
            "over_share": Refusal(
                429,
                "over_share",
                "too many requests from this API key: it is over its share while "
                "others wait, retry later",
                retry,
            ),
            "rate_limited": Refusal(
                429,
                "rate_limited",
                "too many requests from this API key: over its rate_per_s, retry later",
                retry,
            ),
            "deadline": Refusal(
                504,
                "deadline_exceeded",
                "the request could not be served within its X-Request-Timeout-Ms",
            ),
        }
        return cls(
            unauthorized=Refusal(
                401,
                "unauthorized",
                "missing or wrong API key: send 'Authorization: Bearer <API_KEY>'",
                [(b"www-authenticate", b"Bearer")],
            ),
            not_found=Refusal(
                404, "no_such_route", "no such endpoint: see /docs.json for the routes"
            ),
            no_such_model=Refusal(
                404,
                "no_such_route",
                f"model not found: this server serves {settings.model_name}, at the "
                f"version GET /v2/models/{settings.model_name} names",
            ),
            bad_path=Refusal(
                400, "bad_path", "the path must not contain control characters"
            ),
            duplicate_header=Refusal(
                400,
                "duplicate_header",
                "send Authorization, Content-Type and X-Request-Timeout-Ms at most "
                "once each",
            ),
            by_reason=dict.fromkeys(REFUSAL_REASONS, overloaded) | tenant_and_deadline,
        )

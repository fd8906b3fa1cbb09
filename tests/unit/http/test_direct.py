"""Unit tests for sentiment.http.direct: what it answers itself, what it hands on."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
import pytest
from bentoml.exceptions import ServiceUnavailable
from starlette.types import Receive, Scope, Send

from sentiment.config import Settings
from sentiment.errors import DeadlineExceeded
from sentiment.http.connections import Recycling
from sentiment.http.direct import DirectClassify
from sentiment.http.headers import RequestHeaders
from sentiment.lifecycle import live
from tests.asgi import Exchange, FakeApp, request

SETTINGS = Settings(max_body_bytes=4096, max_texts=4)
GOOD = b'{"texts": ["  a fine film ", "a dull mess"]}'


class FakeBatch:
    """The batched call: records what it was given, answers one dict per text."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.error = error

    async def __call__(self, texts: list[str]) -> list[dict[str, Any]]:
        self.calls.append(texts)
        if self.error is not None:
            raise self.error
        return [{"label": "positive", "score": 0.75, "text": t} for t in texts]


def direct(
    batch: FakeBatch | None = None,
    recycling: Recycling | None = None,
    logged: list[tuple[str, bytes, bytes, str]] | None = None,
) -> tuple[Any, FakeApp, FakeBatch]:
    """A DirectClassify in front of a fake stack, as an ASGI app for tests.asgi."""
    stack, batch = FakeApp(status=299, body=b"from the stack"), batch or FakeBatch()

    def log(request_id: str, body: bytes, answer: bytes, tag: str) -> None:
        assert logged is not None
        logged.append((request_id, body, answer, tag))

    path = DirectClassify(
        stack,
        batch,
        SETTINGS,
        recycling or Recycling(0),
        log if logged is not None else None,
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await path(scope, receive, send, RequestHeaders.of(scope))

    return app, stack, batch


def post(app: Any, body: bytes, **headers: bytes) -> Exchange:
    sent = {b"content-length": b"%d" % len(body)}
    sent |= {k.replace("_", "-").encode(): v for k, v in headers.items()}
    return request(app, body, headers=sent)


def test_a_plainly_valid_body_is_answered_here_with_the_stripped_texts() -> None:
    app, stack, batch = direct()
    result = post(app, GOOD)
    assert result.status == 200 and stack.seen == []
    assert batch.calls == [["a fine film", "a dull mess"]]
    assert orjson.loads(result.body) == [
        {"label": "positive", "score": 0.75, "text": "a fine film"},
        {"label": "positive", "score": 0.75, "text": "a dull mess"},
    ]
    assert result.headers[b"content-type"] == b"application/json"
    assert result.headers[b"content-length"] == b"%d" % len(result.body)
    assert result.headers[b"x-model-version"] == live.active_tag().encode()
    assert b"connection" not in result.headers


def test_the_answer_carries_the_clients_request_id_or_a_fresh_one() -> None:
    app, _, _ = direct()
    assert post(app, GOOD, x_request_id=b"abc.1").headers[b"x-request-id"] == b"abc.1"
    fresh = post(app, GOOD, x_request_id=b"bad id\x01").headers[b"x-request-id"]
    assert re.fullmatch(rb"[0-9a-f]{32}", fresh)


NOT_PLAINLY_VALID = [
    b"not json",
    b'{"texts": ["a fine film"]',  # truncated
    b"[]",
    b'"a fine film"',
    b'{"texts": "a fine film"}',
    b'{"texts": []}',
    b'{"texts": ["a fine film"], "extra": 1}',
    b'{"text": ["a fine film"]}',
    b'{"texts": ["a fine film", 3]}',
    b'{"texts": ["a fine film", null]}',
    b'{"texts": ["a fine film", ["nested"]]}',
    b'{"texts": ["12"]}',
    b'{"texts": ["ok"]}',
    b'{"texts": ["a fine\\u0000 film"]}',
    b'{"texts": ["a fine film", "a fine film", "a fine film", "a fine film", "five"]}',
    b'{"texts": [NaN]}',
    b'{"texts": ["\\ud800 lone surrogate"]}',
    b'{"texts": ' + b"[" * 5000 + b"]" * 5000 + b"}",
]


@pytest.mark.parametrize("body", NOT_PLAINLY_VALID)
def test_anything_not_plainly_valid_goes_to_the_stack_with_its_body(
    body: bytes,
) -> None:
    app, stack, batch = direct()
    result = post(app, body)
    assert (result.status, result.body) == (299, b"from the stack")
    assert stack.seen == [body] and batch.calls == []


def test_a_chunked_body_goes_to_the_stack_unread() -> None:
    app, stack, batch = direct()
    result = request(app, GOOD, chunk_size=5)  # no Content-Length
    assert result.status == 299 and stack.seen == [GOOD] and batch.calls == []


def test_a_body_declared_over_the_cap_goes_to_the_stack_unread() -> None:
    app, stack, batch = direct()
    body = b'{"texts": ["' + b"a" * 5000 + b'"]}'
    result = post(app, body)
    assert result.status == 299 and stack.seen == [body] and batch.calls == []
    assert result.chunks_read == 1  # the stack's read, not this path's


def test_a_body_longer_than_it_declared_goes_to_the_stack() -> None:
    app, stack, batch = direct()
    body = b'{"texts": ["' + b"a" * 5000 + b'"]}'
    result = request(app, body, headers={b"content-length": b"10"}, chunk_size=100)
    assert result.status == 299 and batch.calls == []
    assert stack.seen == [b""]  # over the cap: nothing kept to replay


@pytest.mark.parametrize(
    ("error", "status", "rule"),
    [
        (
            DeadlineExceeded("the request's X-Request-Timeout-Ms passed"),
            504,
            "deadline_exceeded",
        ),
        (ServiceUnavailable("process is overloaded"), 503, "overloaded"),
        (RuntimeError("boom"), 500, "internal_error"),
    ],
)
def test_a_batch_that_fails_is_a_clear_error_with_the_request_id(
    error: Exception, status: int, rule: str
) -> None:
    app, stack, _ = direct(FakeBatch(error))
    result = post(app, GOOD, x_request_id=b"rid-7")
    body = json.loads(result.body)
    assert result.status == status and stack.seen == []
    assert body["detail"][0]["type"] == rule and body["request_id"] == "rid-7"
    assert (b"retry-after" in result.headers) is (status == 503)


def test_every_nth_answer_closes_its_connection() -> None:
    app, _, _ = direct(recycling=Recycling(2))
    closing = [post(app, GOOD).headers.get(b"connection") for _ in range(4)]
    assert closing == [None, b"close", None, b"close"]


def test_an_answer_goes_to_the_prediction_log() -> None:
    logged: list[tuple[str, bytes, bytes, str]] = []
    app, _, _ = direct(logged=logged)
    result = post(app, GOOD, x_request_id=b"rid-9")
    assert logged == [("rid-9", GOOD, result.body, live.active_tag())]

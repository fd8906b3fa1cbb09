"""Unit tests for sentiment.http.direct: what it answers itself, what it hands on."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import orjson
import pydantic
import pytest
from bentoml.exceptions import ServiceUnavailable
from starlette.types import Message, Receive, Scope, Send

from sentiment.config import Settings
from sentiment.errors import DeadlineExceeded
from sentiment.http.connections import Recycling
from sentiment.http.direct import DirectClassify, direct_path
from sentiment.http.headers import RequestHeaders
from sentiment.http.schemas import reviews_type
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
    settings: Settings = SETTINGS,
    timeout_s: float | None = None,
) -> tuple[Any, FakeApp, FakeBatch]:
    """A DirectClassify in front of a fake stack, as an ASGI app for tests.asgi.

    ``timeout_s`` replaces ``SENTIMENT_TIMEOUT_S`` (whole seconds) for the test.
    """
    stack, batch = FakeApp(status=299, body=b"from the stack"), batch or FakeBatch()

    def log(request_id: str, body: bytes, answer: bytes, tag: str) -> None:
        assert logged is not None
        logged.append((request_id, body, answer, tag))

    path = DirectClassify(
        stack,
        batch,
        settings,
        recycling or Recycling(0),
        log if logged is not None else None,
    )
    if timeout_s is not None:
        path.timeout_s = timeout_s

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


# What BentoML's endpoint parses a /classify body with: its input model, validated
# from the JSON bytes by pydantic (extra fields ignored), over the same review type.
ROOMY = Settings(max_body_bytes=1 << 16, max_texts=4)  # room for 5,001 characters
STACK_INPUT = pydantic.create_model("Input", texts=(reviews_type(ROOMY.max_texts), ...))
FILM = b'"a fine film"'
ODD_BODIES = [
    b'{"texts": ["bad"], "texts": ["a fine film"]}',  # duplicate keys: the last wins
    b'{"texts": ["a fine film"], "texts": ["bad"]}',
    b'{"texts": 5, "texts": ["a fine film"]}',
    b'\xef\xbb\xbf{"texts": ["a fine film"]}',  # a UTF-8 BOM
    b' \r\n\t{"texts": ["a fine film"]} \r\n\t',
    b'{"texts": ["a fine film"]} x',
    b'{"texts": ["a fine film"]}\x00',
    b'{"texts": ["a fine \xff film"]}',  # not UTF-8
    b'{"texts": ["\xed\xa0\x80 a fine film"]}',  # an encoded surrogate
    b'{"texts": ["\xc0\xaf a fine film"]}',  # an overlong encoding
    b'{"texts": ["a fine \\ud83d\\ude00 film"]}',  # an escaped surrogate pair
    b'{"texts": ["a fine film \\udbff"]}',
    b'{"texts": ["a fine \\u001f film"]}',
    b'{"texts": ["a fine \\u007f film"]}',
    b'{"texts": ["a fine \\u0085 film"]}',  # NEL: unprintable, not a control char
    b'{"texts": ["a fine \\u2028 film"]}',
    b'{"texts": ["\\u001c\\u001dabcd"]}',  # str.strip() strips these
    b'{"texts": ["\\u00a0\\u2003 12 \\u3000"]}',  # Unicode spaces around a number
    b'{"texts": ["\\u2003ab\\u2003"]}',
    b'{"texts": ["\\u200b12\\u200b"]}',  # zero-width space: not whitespace
    b'{"texts": ["\\ufeff1234"]}',
    b'{"texts": ["+\\u0661\\u0662\\u0663\\u0664"]}',  # Arabic-Indic digits
    b'{"texts": ["\\u00b2\\u00b3\\u00b9\\u00b9"]}',  # superscripts: not \\d
    b'{"texts": ["\\r\\n\\tabc\\r"]}',
    b'{"texts": ["\\r\\n\\tabcd\\r"]}',
    b'{"\\u0074exts": ["a fine film"]}',  # the key, escaped
    b'{"texts": ["\\u0074exts"], "\\u0074exts": ["a fine film"]}',
    b'{"texts": [" \\u00a0 \\u2003 "]}',
    b" \r\n",
    b'{"texts": ["' + b"a" * 5000 + b'"]}',
    b'{"texts": ["' + b"a" * 5001 + b'"]}',
    b'{"texts": ["' + "\u00e9".encode() * 5000 + b'"]}',  # 10,000 bytes, 5,000 chars
    b'{"texts": ["' + "\U0001f600".encode() * 5001 + b'"]}',
    b'{"texts": ["' + b"\\u00e9" * 5001 + b'"]}',
    b'{"texts": ["' + b" " * 4999 + b'abcd"]}',
    b'{"texts": [' + b",".join([FILM] * 4) + b"]}",  # max_texts
    b'{"texts": [' + b",".join([FILM] * 5) + b"]}",
    b'{"texts": [' + FILM + b", 1e999]}",
    b'{"texts": [' + FILM + b", 123456789012345678901234567890]}",
    b'{"texts": [' + FILM + b", -Infinity]}",
    b'{"texts": [' + FILM + b", true]}",
    b'{"texts": [' + FILM + b", {}]}",
    b'{"texts": [' + FILM + b",]}",
    b"{'texts': [" + FILM + b"]}",
    b'{"texts": [' + FILM + b'], "extra": null}',  # BentoML ignores the extra field
]


@pytest.mark.parametrize("body", ODD_BODIES)
def test_an_odd_body_is_answered_here_only_as_the_stack_would_read_it(
    body: bytes,
) -> None:
    """Taken here only if BentoML's parse accepts it, with the same stripped texts."""
    app, stack, batch = direct(settings=ROOMY)
    result = post(app, body)
    try:
        expected: list[str] | None = STACK_INPUT.model_validate_json(body).texts
    except pydantic.ValidationError:
        expected = None
    if batch.calls:
        assert expected is not None and batch.calls == [expected]
        assert result.status == 200 and stack.seen == []
    else:
        assert stack.seen == [body]


def test_a_body_that_stalls_gets_bentomls_504_and_the_connection_closes() -> None:
    """The read is bounded by SENTIMENT_TIMEOUT_S, as BentoML's timeout bounds it.

    Unbounded, a client that sent its head and part of its body held its
    admission slot for as long as it kept the connection open: 70 such
    connections left a real server answering every request 503.
    """
    app, stack, batch = direct(timeout_s=0.05)
    sent: list[Message] = []
    parts = iter([{"type": "http.request", "body": b'{"texts": ', "more_body": True}])

    async def receive() -> Message:
        part = next(parts, None)
        if part is None:
            await asyncio.Event().wait()  # the rest never comes
        return part

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/classify",
        "headers": [(b"content-length", b"100"), (b"x-request-id", b"rid-3")],
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 504 and stack.seen == [] and batch.calls == []
    headers = dict(sent[0]["headers"])
    assert headers[b"connection"] == b"close" and headers[b"x-request-id"] == b"rid-3"
    assert json.loads(sent[1]["body"]) == {
        "error": f"Not able to process the request in {SETTINGS.timeout_s} seconds"
    }


def test_without_batching_there_is_no_direct_path() -> None:
    """SENTIMENT_BATCHING=0: BentoML makes no dispatcher, every request its way.

    The direct path handed every valid body to batch_infer, which raised a
    KeyError: each was a 500.
    """

    class Factory:
        dispatchers: dict[str, object] = {}

    build = direct_path(SETTINGS, Recycling(0))
    assert build(FakeApp(), Factory()) is None
    Factory.dispatchers = {"classify": object()}
    assert isinstance(build(FakeApp(), Factory()), DirectClassify)


@pytest.mark.parametrize(
    ("settings", "built"),
    [
        (Settings(), True),
        (Settings(direct_classify=False), False),
        (Settings(tracing=True), False),  # only BentoML's path makes the spans
    ],
)
def test_the_direct_path_is_built_unless_turned_off_or_tracing(
    settings: Settings, built: bool
) -> None:
    assert (direct_path(settings, Recycling(0)) is not None) is built

"""Unit tests for sentiment.http.guard, driven in-process with a fake app."""

from __future__ import annotations

import json

import pytest

from sentiment.config import Settings
from sentiment.http.guard import DRAIN_FACTOR, ClassifyGuard
from tests.asgi import Exchange, FakeApp, request

SETTINGS = Settings(max_body_bytes=64)
GOOD_BODY = b'{"texts": ["fine film"]}'


def guarded(
    settings: Settings = SETTINGS, **app: object
) -> tuple[ClassifyGuard, FakeApp]:
    fake = FakeApp(**app)  # type: ignore[arg-type]
    return ClassifyGuard(fake, settings), fake


def rule_of(exchange: Exchange) -> str:
    return json.loads(exchange.body)["detail"][0]["type"]


def test_good_request_reaches_the_app_with_its_whole_body() -> None:
    guard, app = guarded()
    assert request(guard, GOOD_BODY, chunk_size=7).status == 200
    assert app.seen == [GOOD_BODY]


@pytest.mark.parametrize("chunk_size", [None, 10])
def test_body_over_the_cap_is_drained_then_413(chunk_size: int | None) -> None:
    guard, app = guarded()
    body = b'{"texts": ["' + b"a" * 300 + b'"]}'
    result = request(guard, body, chunk_size=chunk_size)
    assert result.status == 413 and rule_of(result) == "body_too_large"
    assert app.seen == []
    chunks = -(-len(body) // (chunk_size or len(body)))
    assert result.chunks_read == chunks, "the whole body is read before the 413"
    assert b"connection" not in result.headers


def test_body_beyond_the_drain_limit_is_refused_and_closed() -> None:
    guard, app = guarded()
    body = b"x" * (SETTINGS.max_body_bytes * DRAIN_FACTOR + 500)
    result = request(guard, body, chunk_size=100)
    assert result.status == 413 and result.headers[b"connection"] == b"close"
    assert result.chunks_read < len(body) // 100
    assert app.seen == []


def test_declared_length_beyond_the_drain_limit_is_refused_unread() -> None:
    guard, _ = guarded()
    too_long = str(SETTINGS.max_body_bytes * DRAIN_FACTOR + 1).encode()
    result = request(guard, headers={b"content-length": too_long})
    assert result.status == 413 and result.chunks_read == 0
    assert result.headers[b"connection"] == b"close"


def test_other_paths_pass_through_untouched() -> None:
    guard, _ = guarded(Settings(API_KEY="s3cret"))
    assert request(guard, path="/livez", method="GET").status == 200


def test_shed_503_gets_clear_body_and_retry_after() -> None:
    guard, _ = guarded(status=503, body=b'{"error": "An unexpected error"}')
    result = request(guard)
    assert result.status == 503
    assert result.headers[b"retry-after"] == b"1"
    assert int(result.headers[b"content-length"]) == len(result.body)
    assert rule_of(result) == "overloaded"
    assert b"max_latency_ms=1000" in result.body


def test_a_deadline_504_gets_the_deadline_exceeded_body() -> None:
    """BentoML answers the DeadlineExceeded of its batching queue as any 5xx."""
    body = b'{"error":"An unexpected error has occurred, please check the server log."}'
    guard, _ = guarded(status=504, body=body)
    result = request(guard)
    assert result.status == 504 and rule_of(result) == "deadline_exceeded"
    assert (
        json.loads(result.body)["error"] == "the request's X-Request-Timeout-Ms passed"
    )
    assert int(result.headers[b"content-length"]) == len(result.body)


def test_guard_leaves_the_header_checks_to_admission() -> None:
    """The guard no longer reads headers: a text/plain body under the cap passes."""
    guard, app = guarded()
    plain = {b"content-type": b"text/plain"}
    assert request(guard, GOOD_BODY, headers=plain).status == 200
    assert app.seen == [GOOD_BODY]

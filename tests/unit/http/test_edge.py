"""Unit tests for sentiment.http.edge: the model routes' one path, fake handlers."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from starlette.types import Message, Scope

from sentiment.asgi import DRAIN_BYTES
from sentiment.config import Settings
from sentiment.http.answers import Answer, ClassifyErrors, Problem, V2Errors
from sentiment.http.edge import ModelEdge, Recycling
from sentiment.http.headers import RequestHeaders
from sentiment.lifecycle import live
from tests.asgi import request

CAP = 100
SETTINGS = Settings(max_body_bytes=CAP, recycle_every=0)


class FakeHandler:
    """Answers 200 with the body it got, or raises what it was given."""

    def __init__(self, error: Exception | None = None, errors: Any = None) -> None:
        self.error = error
        self.errors = errors or ClassifyErrors()
        self.bodies: list[bytes] = []

    async def __call__(self, body: bytes, scope: Scope) -> Answer:
        self.bodies.append(body)
        if self.error is not None:
            raise self.error
        return Answer(200, b'["ok"]', logged=(body, b'["ok"]'))


class FakeSeries:
    """BentoML's request series: what ended, with which status."""

    def __init__(self) -> None:
        self.statuses: list[int] = []

    def __call__(self, path: str) -> FakeSeries:
        return self

    def started(self) -> float:
        return 0.0

    def finished(self, status: int, started: float) -> None:
        self.statuses.append(status)


def edge(
    handler: FakeHandler | None = None,
    settings: Settings = SETTINGS,
    logged: list[tuple[str, ...]] | None = None,
) -> tuple[Any, FakeHandler, FakeSeries]:
    """A ModelEdge as an ASGI app for tests.asgi, the headers read as admission does."""
    handler = handler or FakeHandler()
    series = FakeSeries()

    def log(request_id: str, body: bytes, answer: bytes, tag: str) -> None:
        if logged is not None:
            logged.append((request_id, body.decode(), answer.decode(), tag))

    model_edge = ModelEdge({"/classify": handler}, settings, series, log)

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await model_edge(scope, receive, send, RequestHeaders.of(scope), "/classify")

    return app, handler, series


def test_an_answer_carries_the_id_the_model_version_and_goes_to_the_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "active_tag", lambda: "sentiment:v3")
    logged: list[tuple[str, ...]] = []
    app, handler, series = edge(logged=logged)
    answer = request(app, b'{"texts": ["a film"]}', {b"x-request-id": b"r-1"})
    assert (answer.status, answer.body) == (200, b'["ok"]')
    assert answer.headers[b"x-model-version"] == b"sentiment:v3"
    assert answer.headers[b"x-request-id"] == b"r-1"
    assert answer.headers[b"content-length"] == b"6"
    assert logged == [("r-1", '{"texts": ["a film"]}', '["ok"]', "sentiment:v3")]
    assert series.statuses == [200]


def test_without_a_client_id_a_fresh_one_is_made() -> None:
    answer = request(edge()[0])
    assert len(answer.headers[b"x-request-id"]) == 32


@pytest.mark.parametrize("chunk_size", [None, 7])
def test_a_body_over_the_cap_is_drained_then_413(chunk_size: int | None) -> None:
    app, handler, _ = edge()
    answer = request(app, b"x" * (CAP + 1), chunk_size=chunk_size)
    assert answer.status == 413 and handler.bodies == []
    assert json.loads(answer.body)["detail"][0]["type"] == "body_too_large"
    assert b"connection" not in answer.headers  # read whole: the connection lives


def test_a_body_beyond_the_drain_is_refused_and_closed() -> None:
    app, _, _ = edge()
    chunk = 1 << 20
    answer = request(app, b"x" * (DRAIN_BYTES + 3 * chunk), chunk_size=chunk)
    assert answer.status == 413 and answer.headers[b"connection"] == b"close"
    assert answer.chunks_read < DRAIN_BYTES // chunk + 3, "the drain is bounded"


@pytest.mark.parametrize("chunk_size", [None, 7])
def test_a_declared_length_over_the_cap_is_drained_then_413(
    chunk_size: int | None,
) -> None:
    app, handler, _ = edge()
    body = b"x" * (CAP * 3)
    declared = {b"content-length": b"%d" % len(body)}
    answer = request(app, body, declared, chunk_size=chunk_size)
    assert answer.status == 413 and handler.bodies == []
    assert b"connection" not in answer.headers


def test_a_declared_length_beyond_the_drain_is_refused_unread() -> None:
    app, _, _ = edge()
    declared = {b"content-length": b"%d" % (DRAIN_BYTES + 1)}
    answer = request(app, b"{}", declared)
    assert answer.status == 413 and answer.chunks_read == 0
    assert answer.headers[b"connection"] == b"close"


def test_a_client_waiting_for_100_continue_gets_the_413_at_once() -> None:
    app, _, _ = edge()
    headers = {b"content-length": b"%d" % (CAP + 1), b"expect": b"100-continue"}
    answer = request(app, b"x" * (CAP + 1), headers)
    assert answer.status == 413 and answer.chunks_read == 0
    assert answer.headers[b"connection"] == b"close"


def test_the_413_takes_the_routes_error_shape() -> None:
    app, _, _ = edge(FakeHandler(errors=V2Errors()))
    answer = request(app, b"x" * (CAP + 1))
    assert json.loads(answer.body) == {
        "error": f"request body must be at most {CAP} bytes"
    }


def test_a_refusal_is_rendered_counted_and_not_logged_as_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sentiment.telemetry.metrics import REJECTIONS

    counter = REJECTIONS.labels(rule="review_too_short")
    before = counter._value.get()
    problem = Problem(400, "review_too_short", "too short")
    app, _, series = edge(FakeHandler(problem))
    with caplog.at_level(logging.INFO):
        answer = request(app, headers={b"x-request-id": b"r-400"})
    assert answer.status == 400 and series.statuses == [400]
    assert json.loads(answer.body)["request_id"] == "r-400"
    assert counter._value.get() == before + 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_failure_of_the_servers_own_is_500_with_its_traceback_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _, _ = edge(FakeHandler(RuntimeError("model broke")))
    with caplog.at_level(logging.ERROR):
        answer = request(app)
    assert answer.status == 500
    assert json.loads(answer.body)["detail"][0]["type"] == "internal_error"
    (record,) = caplog.records
    assert record.exc_info is not None and "POST /classify" in record.getMessage()


def test_a_body_that_stalls_gets_the_504_and_the_connection_closes() -> None:
    model_edge = ModelEdge({"/classify": FakeHandler()}, SETTINGS, FakeSeries())
    model_edge.timeout_s = 0.05
    sent: list[Message] = []
    scope = {"type": "http", "method": "POST", "path": "/classify", "headers": []}

    async def stalled() -> Message:
        await asyncio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(model_edge(scope, stalled, send, RequestHeaders.of(scope), "/classify"))
    assert sent[0]["status"] == 504 and (b"connection", b"close") in sent[0]["headers"]
    assert b"Not able to process the request" in sent[1]["body"]


def test_a_client_that_left_before_its_body_arrived_gets_nothing() -> None:
    model_edge = ModelEdge(
        {"/classify": FakeHandler()}, SETTINGS, series := FakeSeries()
    )
    sent: list[Message] = []
    scope = {"type": "http", "method": "POST", "path": "/classify", "headers": []}

    async def gone() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(model_edge(scope, gone, send, RequestHeaders.of(scope), "/classify"))
    assert sent == [] and series.statuses == [499]


def test_every_nth_answer_closes_its_connection() -> None:
    app, _, _ = edge(settings=Settings(max_body_bytes=CAP, recycle_every=3))
    closes = [b"connection" in request(app).headers for _ in range(6)]
    assert closes == [False, False, True, False, False, True]


def test_recycling_off_with_zero() -> None:
    recycling = Recycling(0)
    assert not any(recycling.due() for _ in range(100))

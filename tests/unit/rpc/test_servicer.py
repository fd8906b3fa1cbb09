"""gRPC's statuses for REST's refusals, the retry hint, the prediction log."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import orjson
import pytest
from pydantic import BaseModel

from sentiment.config import Settings
from sentiment.http.edge import ModelEdge
from sentiment.http.handlers import Reviews, Scoring, V2Infer
from sentiment.http.refusals import retry_after
from sentiment.http.routes import V2_INFER
from sentiment.http.schemas import reviews_type
from sentiment.http.worker import Worker
from sentiment.lifecycle import live
from sentiment.rpc.proto import open_inference_grpc_pb2 as pb
from sentiment.rpc.servicer import InferenceServicer, retry_hint, status_of
from tests.asgi import FakeApp, admission_for


@pytest.mark.parametrize(
    ("http", "code"),
    [
        (400, grpc.StatusCode.INVALID_ARGUMENT),
        (401, grpc.StatusCode.UNAUTHENTICATED),
        (404, grpc.StatusCode.NOT_FOUND),
        (421, grpc.StatusCode.FAILED_PRECONDITION),
        (429, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (503, grpc.StatusCode.UNAVAILABLE),
        (504, grpc.StatusCode.DEADLINE_EXCEEDED),
        (500, grpc.StatusCode.INTERNAL),
    ],
)
def test_each_refusal_has_its_status(http: int, code: grpc.StatusCode) -> None:
    assert status_of(http) == code


def test_retry_after_becomes_trailing_metadata_and_pushback() -> None:
    assert retry_hint([retry_after(1)]) == (
        ("retry-after", "1"),
        ("grpc-retry-pushback-ms", "1000"),
    )
    assert retry_hint([(b"www-authenticate", b"Bearer")]) == ()


class Input(BaseModel):
    """What BentoML builds from ``classify``'s signature."""

    texts: reviews_type(4)  # type: ignore[valid-type]


async def one_prediction_per_text(texts: list[str]) -> list[dict[str, Any]]:
    probabilities = {"negative": 0.25, "positive": 0.75}
    return [
        {"label": "positive", "score": 0.75, "probabilities": probabilities}
        for _ in texts
    ]


class Aborted(Exception):
    """What the fake context's ``abort`` raises, as gRPC's does."""


class FakeContext:
    """A call's context: its metadata, no deadline, never cancelled."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def time_remaining(self) -> None:
        return None

    def cancelled(self) -> bool:
        return False

    async def abort(self, code: grpc.StatusCode, details: str, *_: Any) -> None:
        raise Aborted(code, details)


def servicer(logged: list[tuple[str, bytes, bytes, str]]) -> InferenceServicer:
    """A servicer over a real admission, V2 handler and edge; a fake batch."""
    settings = Settings()
    scoring = Scoring(one_prediction_per_text, 250)
    v2 = V2Infer(Reviews(Input, 4), scoring, "sentiment", logs=True)

    def log(request_id: str, request: bytes, response: bytes, tag: str) -> None:
        logged.append((request_id, request, response, tag))

    edge = ModelEdge({V2_INFER: v2}, settings, lambda path: None, log)
    worker = Worker(admission_for(FakeApp(), settings), {V2_INFER: v2}, edge)
    return InferenceServicer(worker, settings, lambda: "sentiment:v3")


def infer(*texts: str) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="sentiment")
    tensor = request.inputs.add(name="text", datatype="BYTES", shape=[len(texts)])
    tensor.contents.bytes_contents.extend(text.encode() for text in texts)
    return request


def test_an_answered_call_goes_to_the_prediction_log_as_rest_v2s_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "active_version", lambda: "v3")
    logged: list[tuple[str, bytes, bytes, str]] = []
    answer = asyncio.run(
        servicer(logged).ModelInfer(
            infer("a fine film"), FakeContext((("x-request-id", "r-7"),))
        )
    )
    assert answer.outputs[0].name == "label"
    assert len(logged) == 1
    request_id, request, response, tag = logged[0]
    assert (request_id, tag) == ("r-7", "sentiment:v3")
    assert orjson.loads(request) == {"texts": ["a fine film"]}
    assert [p["label"] for p in orjson.loads(response)] == ["positive"]


def test_a_refused_call_is_not_logged_and_an_id_is_made_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live, "active_version", lambda: "v3")
    logged: list[tuple[str, bytes, bytes, str]] = []
    answering = servicer(logged)
    with pytest.raises(Aborted) as refused:
        asyncio.run(answering.ModelInfer(infer("ab"), FakeContext(())))
    assert refused.value.args[0] == grpc.StatusCode.INVALID_ARGUMENT
    asyncio.run(answering.ModelInfer(infer("a dull mess"), FakeContext(())))
    assert len(logged) == 1 and len(logged[0][0]) == 32  # fresh_id's 32 hex

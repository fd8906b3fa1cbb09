"""Unit tests for sentiment.http.handlers: parse, check, score, render; no model."""

from __future__ import annotations

import asyncio
import json
import time
from http import HTTPStatus
from typing import Any

import orjson
import pytest
from bentoml.exceptions import BentoMLException, InvalidArgument, ServiceUnavailable
from pydantic import BaseModel

from sentiment import leases
from sentiment.errors import DeadlineExceeded
from sentiment.http.answers import ClassifyErrors, Problem, V2Errors
from sentiment.http.handlers import Classify, Explain, Reviews, Scoring, V2Infer
from sentiment.http.schemas import TOP_FEATURES, reviews_type

MAX_TEXTS = 4
SCOPE: dict[str, Any] = {"type": "http", "headers": []}


class Input(BaseModel):
    """What BentoML builds from ``classify``'s signature."""

    texts: reviews_type(MAX_TEXTS)  # type: ignore[valid-type]


class ExplainInput(BaseModel):
    texts: reviews_type(2)  # type: ignore[valid-type]
    top: TOP_FEATURES = 5


class FakeBatch:
    """The batched call: records the texts, answers one prediction per text."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[list[str]] = []
        self.error = error

    async def __call__(self, texts: list[str]) -> list[dict[str, Any]]:
        self.calls.append(texts)
        if self.error is not None:
            raise self.error
        return [
            {
                "label": "positive",
                "score": 0.75,
                "probabilities": {"negative": 0.25, "positive": 0.75},
            }
            for _ in texts
        ]


def classify(batch: FakeBatch | None = None) -> tuple[Classify, FakeBatch]:
    batch = batch or FakeBatch()
    return Classify(Reviews(Input, MAX_TEXTS), Scoring(batch, 250)), batch


def run(handler: Any, body: bytes, scope: dict[str, Any] = SCOPE) -> Any:
    """The handler's answer, or its refusal rendered in its error shape."""
    try:
        return asyncio.run(handler(body, scope))
    except Problem as problem:
        return handler.errors.render(problem)


def test_a_plainly_valid_body_is_scored_stripped_and_logged() -> None:
    handler, batch = classify()
    body = b'{"texts": ["  a fine film ", "a dull mess"]}'
    answer = run(handler, body)
    assert answer.status == 200 and batch.calls == [["a fine film", "a dull mess"]]
    assert orjson.loads(answer.body)[0]["label"] == "positive"
    assert answer.logged == (body, answer.body)


@pytest.mark.parametrize(
    "body",
    [
        b'{"texts": ["ab"]}',
        b'{"texts": []}',
        b'{"texts": ["fine film", 42]}',
        b'{"texts": "a fine film"}',
        b'{"text": ["a fine film"]}',
        b"null",
        b'{"texts": [',
        b"",
        b'{"texts": ["a fine film", "77", "  "]}',
        b'{"texts": ["fine film", "fine film", "fine film", "fine film", "fine"]}',
    ],
)
def test_an_invalid_body_gets_bentomls_400_byte_for_byte(body: bytes) -> None:
    """The body BentoML's endpoint gave, with the request ID (None: no request)."""
    from pydantic import ValidationError

    handler, batch = classify()
    answer = run(handler, body)
    with pytest.raises(ValidationError) as caught:
        Input.model_validate_json(body or b"{}")
    error = caught.value
    expected = {
        "error": f"{error.error_count()} validation error for {error.title}",
        "detail": error.errors(include_context=False, include_input=False),
        "request_id": None,
    }
    assert (answer.status, answer.body) == (400, json.dumps(expected).encode())
    assert answer.rules == tuple(item["type"] for item in expected["detail"])
    assert batch.calls == []


def test_a_body_pydantic_accepts_is_scored_as_it_reads_it() -> None:
    handler, batch = classify()
    body = b'{"texts": ["  a fine film "], "extra": 1}'
    assert run(handler, body).status == 200
    assert batch.calls == [["a fine film"]]


def test_a_deadline_passed_in_the_queue_is_its_504() -> None:
    error = DeadlineExceeded(DeadlineExceeded.passed)
    answer = run(classify(FakeBatch(error))[0], b'{"texts": ["a fine film"]}')
    payload = json.loads(answer.body)
    assert answer.status == 504 and payload["detail"][0]["type"] == "deadline_exceeded"
    assert payload["error"] == DeadlineExceeded.passed


def test_a_request_the_batching_shed_is_503_with_retry_after() -> None:
    answer = run(
        classify(FakeBatch(ServiceUnavailable("shed")))[0],
        b'{"texts": ["a fine film"]}',
    )
    assert answer.status == 503 and answer.rules == ("overloaded",)
    assert (b"retry-after", b"1") in answer.headers
    assert "max_latency_ms=250" in json.loads(answer.body)["error"]


def test_the_classify_shape_names_one_rule_with_the_request_id() -> None:
    from sentiment.telemetry.request_ids import REQUEST_ID

    token = REQUEST_ID.set("r-1")
    try:
        answer = ClassifyErrors().render(Problem(413, "body_too_large", "too big"))
    finally:
        REQUEST_ID.reset(token)
    assert json.loads(answer.body) == {
        "error": "too big",
        "detail": [{"type": "body_too_large", "loc": [], "msg": "too big"}],
        "request_id": "r-1",
    }


class FakeExplain:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        weights = {"positive": [], "negative": []}
        return [
            {
                "label": "positive",
                "score": 0.9,
                "contributions": weights,
                "components": [],
            }
            for _ in kwargs["texts"]
        ]


def test_explain_calls_the_api_with_its_arguments() -> None:
    explain = FakeExplain()
    answer = run(Explain(explain, ExplainInput), b'{"texts": [" a fine film"]}')
    assert answer.status == 200 and explain.calls == [
        {"texts": ["a fine film"], "top": 5}
    ]
    assert json.loads(answer.body)[0]["label"] == "positive"


@pytest.mark.parametrize(
    ("error", "status", "rule"),
    [
        (InvalidArgument("explain_too_long: send fewer"), 400, "http_400"),
        (
            BentoMLException("cannot explain", error_code=HTTPStatus.CONFLICT),
            409,
            "http_409",
        ),
    ],
)
def test_explain_refusals_keep_their_status(
    error: Exception, status: int, rule: str
) -> None:
    answer = run(Explain(FakeExplain(error), ExplainInput), b'{"texts": ["a film"]}')
    payload = json.loads(answer.body)
    assert (answer.status, payload["detail"][0]["type"]) == (status, rule)


def test_explain_bad_input_names_the_field() -> None:
    answer = run(
        Explain(FakeExplain(), ExplainInput), b'{"texts": ["a film"], "top": 0}'
    )
    assert answer.status == 400
    assert json.loads(answer.body)["detail"][0]["loc"] == ["top"]


def v2(batch: FakeBatch | None = None) -> tuple[V2Infer, FakeBatch]:
    batch = batch or FakeBatch()
    reviews, scoring = Reviews(Input, MAX_TEXTS), Scoring(batch, 250)
    return V2Infer(reviews, scoring, "sentiment", logs=True), batch


def infer_body(*texts: object, **extra: Any) -> bytes:
    tensor = {"name": "text", "shape": [len(texts)], "datatype": "BYTES"}
    return json.dumps({"inputs": [{**tensor, "data": list(texts)}], **extra}).encode()


def test_v2_infer_scores_the_tensor_and_logs_it_as_classify() -> None:
    handler, batch = v2()
    answer = run(handler, infer_body(" a fine film", id="7"))
    payload = json.loads(answer.body)
    assert answer.status == 200 and batch.calls == [["a fine film"]]
    assert payload["id"] == "7" and payload["outputs"][0]["data"] == ["positive"]
    assert answer.logged is not None
    assert orjson.loads(answer.logged[0]) == {"texts": [" a fine film"]}


def test_v2_review_errors_name_each_item_in_the_tensor() -> None:
    answer = run(v2()[0], infer_body("a fine film", "ab", "77"))
    message = json.loads(answer.body)["error"]
    assert answer.status == 400
    assert message.startswith("review_too_short at inputs[0].data[1]: ")
    assert "; review_is_number at inputs[0].data[2]: " in message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{", "request body is not JSON"),
        (infer_body(1), "inputs[0].data[0] must be a string"),
        (b'{"inputs": []}', "exactly one tensor"),
    ],
)
def test_v2_tensor_errors_are_one_line_naming_the_field(
    body: bytes, words: str
) -> None:
    answer = run(v2()[0], body)
    assert answer.status == 400 and words in json.loads(answer.body)["error"]


def test_v2_binary_data_is_refused_before_reading() -> None:
    scope = {**SCOPE, "headers": [(b"inference-header-content-length", b"10")]}
    answer = run(v2()[0], infer_body("a fine film"), scope)
    assert (
        answer.status == 400 and "binary_data=False" in json.loads(answer.body)["error"]
    )


def test_v2_timeout_parameter_tightens_the_lease() -> None:
    lease = leases.Lease("t", None, None, time.monotonic() + 60, 1.0)
    token = leases.CURRENT.set(lease)
    try:
        run(v2()[0], infer_body("a fine film", parameters={"timeout": 5_000}))
    finally:
        leases.CURRENT.reset(token)
    assert lease.deadline is not None and lease.deadline < time.monotonic() + 1


def test_v2_shape_words_a_shed_as_rule_and_message() -> None:
    answer = run(v2(FakeBatch(ServiceUnavailable("shed")))[0], infer_body("a film!"))
    assert answer.status == 503
    assert json.loads(answer.body)["error"].startswith("overloaded: server busy")
    assert V2Errors().render(Problem(413, "body_too_large", "too big")).body == (
        b'{"error":"too big"}'
    )

"""Unit tests for sentiment.http.schemas: the review type and the bodies."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from sentiment.http.schemas import (
    ErrorBody,
    Prediction,
    error_payload,
    reviews_type,
)
from sentiment.model.labels import to_predictions
from sentiment.model.reviews import MAX_CHARS, MIN_CHARS, review_pattern

MAX_TEXTS = 256
REVIEWS = TypeAdapter(reviews_type(MAX_TEXTS))


def first_error(value: object) -> dict:
    with pytest.raises(ValidationError) as info:
        REVIEWS.validate_python(value)
    return info.value.errors()[0]


@pytest.mark.parametrize(
    ("texts", "rule", "loc", "words"),
    [
        ([], "too_short", (), "at least 1 item"),
        (["fine film"] * (MAX_TEXTS + 1), "too_long", (), "at most"),
        (["abc"], "review_too_short", (0,), "at least 4 characters"),
        (["good movie", "   ab   "], "review_too_short", (1,), "at least 4 characters"),
        (["\t\n  \n"], "review_too_short", (0,), "at least 4 characters"),
        ([""], "review_too_short", (0,), "at least 4 characters"),
        (["x" * 5001], "review_too_long", (0,), "at most 5000 characters"),
        (["123458303"], "review_is_number", (0,), "cannot be a number"),
        (["  -42  "], "review_is_number", (0,), "cannot be a number"),
        (["+1000"], "review_is_number", (0,), "cannot be a number"),
        (["good film", 1234], "string_type", (1,), "valid string"),
        ([None], "string_type", (0,), "valid string"),
        ([["nested list"]], "string_type", (0,), "valid string"),
        ([{"text": "dict"}], "string_type", (0,), "valid string"),
        ("a single string", "list_type", (), "valid list"),
        (None, "list_type", (), "valid list"),
    ],
)
def test_bad_reviews_are_rejected_naming_rule_and_item(
    texts: object, rule: str, loc: tuple, words: str
) -> None:
    error = first_error(texts)
    assert error["type"] == rule
    assert tuple(error["loc"]) == loc
    assert words in error["msg"]


@pytest.mark.parametrize(
    "text",
    [
        "good",
        "x" * 5000,
        "1984 is a great film",
        "10/10",
        "3.5 stars",
        "  padded but fine  ",
        "très bien, magnifique 🎬",
        "فيلم رائع",
    ],
)
def test_good_reviews_pass_stripped(text: str) -> None:
    assert REVIEWS.validate_python([text]) == [text.strip()]


def test_number_message_names_the_number() -> None:
    error = first_error(["  123458303 "])
    assert error["msg"] == "review cannot be a number, got 123458303"
    assert "{" not in error["msg"]


def test_max_texts_is_the_limit() -> None:
    small = TypeAdapter(reviews_type(2))
    assert small.validate_python(["good film"] * 2) == ["good film"] * 2
    with pytest.raises(ValidationError, match="at most 2 items"):
        small.validate_python(["good film"] * 3)


@pytest.mark.parametrize("mode", ["serialization", "validation"])
def test_the_json_schema_says_the_rules(mode: str) -> None:
    schema = REVIEWS.json_schema(mode=mode)  # type: ignore[arg-type]
    assert (schema["minItems"], schema["maxItems"]) == (1, MAX_TEXTS)
    assert schema["items"] == {
        "type": "string",
        "minLength": MIN_CHARS,
        "maxLength": MAX_CHARS,
        "pattern": review_pattern(),
    }


@pytest.mark.parametrize(
    "texts",
    [
        ["a fine film"],
        ["a fine film"] * MAX_TEXTS,
        ["a fine film"] * (MAX_TEXTS + 1),
        [],
        ["  ab  "],
        ["+12"],
        ["12ab"],
        ["\u0661\u0662\u0663\u0664"],
        ["good\tand\nmoving"],
        ["bad\x7ffilm"],
        ["x" * MAX_CHARS],
        ["x" * (MAX_CHARS + 1)],
        ["a fine film", 1234],
        "a fine film",
    ],
)
def test_a_json_schema_validator_decides_as_the_api(texts: object) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")  # schemathesis's validator
    validator = jsonschema_rs.validator_for(REVIEWS.json_schema(mode="serialization"))
    try:
        REVIEWS.validate_python(texts)
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert validator.is_valid(texts) == accepted


def test_error_payload_is_a_valid_error_body() -> None:
    payload = error_payload("overloaded", "server busy", "req-1")
    assert ErrorBody.model_validate(payload).detail[0].type == "overloaded"
    assert payload == {
        "error": "server busy",
        "detail": [{"type": "overloaded", "loc": [], "msg": "server busy"}],
        "request_id": "req-1",
    }


@pytest.mark.parametrize(
    "prediction",
    [
        {"label": 3, "score": 0.9, "probabilities": {}},
        {"label": "positive", "score": 1.4, "probabilities": {}},
        {"label": "positive", "score": -0.1, "probabilities": {}},
    ],
)
def test_prediction_rejects_impossible_answers(prediction: dict) -> None:
    """Any label the model has (a string), a score that is a probability."""
    with pytest.raises(ValidationError):
        Prediction.model_validate(prediction)


def test_to_predictions_picks_best_label_in_row_order() -> None:
    probabilities = np.array([[0.1, 0.9], [0.7, 0.3], [0.5, 0.5]])
    predictions = to_predictions(probabilities, ["negative", "positive"])
    assert [p["label"] for p in predictions] == ["positive", "negative", "negative"]
    assert [p["score"] for p in predictions] == [0.9, 0.7, 0.5]
    assert predictions[1]["probabilities"] == {"negative": 0.7, "positive": 0.3}
    for prediction in predictions:
        Prediction.model_validate(prediction)


def test_to_predictions_empty_batch() -> None:
    assert to_predictions(np.empty((0, 2)), ["negative", "positive"]) == []


def test_a_component_keeps_the_label_lists_first() -> None:
    from sentiment.http.schemas import Component

    pushes = {"positive": [], "negative": []}
    component = Component(name="logreg", share=1, intercept=0.1, logit=2, **pushes)
    order = ["positive", "negative", "name", "share", "intercept", "logit"]
    assert list(component.model_dump()) == order
    assert "positive" not in Component.model_json_schema()["properties"]

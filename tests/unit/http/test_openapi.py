"""Unit tests for sentiment.http.openapi: the spec correction as a pure function."""

from __future__ import annotations

from typing import Any

from sentiment.http.openapi import ERROR_RESPONSES, corrected_spec
from sentiment.http.schemas import ErrorBody

MODEL_PATHS = ("/classify", "/explain", "/v2/models/{name}/infer")
BENTOML_LIKE_SPEC: dict[str, Any] = {
    "openapi": "3.0.2",
    "components": {"schemas": {"Input": {"type": "object"}}},
    "paths": {
        "/classify": {
            "post": {
                "requestBody": {"content": {"application/json": {"schema": {}}}},
                "responses": {
                    200: {"description": "ok"},
                    "400": {"description": "detail is a string"},
                    "404": {"description": "not found"},
                    "500": {"description": "error"},
                },
            }
        }
    },
}


def test_declares_every_refusal_with_the_error_body() -> None:
    spec = corrected_spec(BENTOML_LIKE_SPEC, MODEL_PATHS)
    responses = spec["paths"]["/classify"]["post"]["responses"]
    assert set(responses) == {"200", *ERROR_RESPONSES}
    for status in ERROR_RESPONSES:
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}


def test_the_request_body_is_required() -> None:
    post = corrected_spec(BENTOML_LIKE_SPEC, MODEL_PATHS)["paths"]["/classify"]["post"]
    assert post["requestBody"]["required"] is True


def test_error_schema_is_generated_from_the_model() -> None:
    schemas = corrected_spec(BENTOML_LIKE_SPEC, MODEL_PATHS)["components"]["schemas"]
    assert schemas["Input"] == {"type": "object"}
    error = schemas["Error"]
    assert error["properties"]["detail"]["type"] == "array"
    item_ref = error["properties"]["detail"]["items"]["$ref"]
    assert item_ref == "#/components/schemas/BrokenRule"
    assert set(schemas["BrokenRule"]["required"]) == {"type", "loc", "msg"}
    assert error["required"] == ["error"]
    assert set(error["properties"]) == set(ErrorBody.model_fields)


def test_input_spec_is_not_modified() -> None:
    before = repr(BENTOML_LIKE_SPEC)
    corrected_spec(BENTOML_LIKE_SPEC, MODEL_PATHS)
    assert repr(BENTOML_LIKE_SPEC) == before

"""The service in-process through its ASGI app (no sockets, real model)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

import service
from sentiment.http.schemas import REVIEW_SCHEMA
from tests.integration.conftest import post_classify


def test_classify_labels_clear_reviews(
    client: TestClient, clear_reviews: list[tuple[str, str]]
) -> None:
    texts = [text for text, _ in clear_reviews]
    response = post_classify(client, {"texts": texts})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert [item["label"] for item in body] == [label for _, label in clear_reviews]
    for item in body:
        assert 0.5 <= item["score"] <= 1.0
        assert item["probabilities"][item["label"]] == item["score"]
        assert sum(item["probabilities"].values()) == pytest.approx(1.0)


def test_order_is_kept_for_mixed_batches(
    client: TestClient, clear_reviews: list[tuple[str, str]]
) -> None:
    texts = [text for text, _ in clear_reviews]
    singles = [post_classify(client, {"texts": [t]}).json()[0] for t in texts]
    reordered = texts[::-1] + texts
    body = post_classify(client, {"texts": reordered}).json()
    expected = singles[::-1] + singles
    assert [b["label"] for b in body] == [e["label"] for e in expected]
    assert [b["score"] for b in body] == pytest.approx([e["score"] for e in expected])


@pytest.mark.parametrize("size", [1, 2, 100, service.SETTINGS.max_texts])
def test_batch_shapes(client: TestClient, size: int) -> None:
    texts = [f"review number {i}: a wonderful film" for i in range(size)]
    response = post_classify(client, {"texts": texts})
    assert response.status_code == 200
    assert len(response.json()) == size


@pytest.mark.parametrize(
    ("body", "rule", "loc"),
    [
        ({"texts": []}, "too_short", ["texts"]),
        ({"texts": ["fine"] * (service.SETTINGS.max_texts + 1)}, "too_long", ["texts"]),
        ({"texts": ["good movie", "ab"]}, "review_too_short", ["texts", 1]),
        ({"texts": ["123458303"]}, "review_is_number", ["texts", 0]),
        ({"texts": ["-42"]}, "review_is_number", ["texts", 0]),
        ({"texts": ["x" * 5001]}, "review_too_long", ["texts", 0]),
        ({"texts": ["good movie", 42]}, "string_type", ["texts", 1]),
        ({"texts": [None]}, "string_type", ["texts", 0]),
        ({"texts": "a string, not a list"}, "list_type", ["texts"]),
        ({"text": ["wrong key"]}, "missing", ["texts"]),
        (None, "model_type", []),
        ([["nested"]], "model_type", []),
    ],
)
def test_bad_input_gets_400_naming_rule_and_item(
    client: TestClient, body: object, rule: str, loc: list
) -> None:
    response = post_classify(client, body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert {"type": rule, "loc": loc} in [
        {"type": d["type"], "loc": d["loc"]} for d in detail
    ]


def test_invalid_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/classify",
        content=b'{"texts": [',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_every_bad_item_is_reported(client: TestClient) -> None:
    response = post_classify(client, {"texts": ["abc", "a fine film", "77", "  "]})
    assert response.status_code == 400
    locs = [d["loc"] for d in response.json()["detail"]]
    assert locs == [["texts", 0], ["texts", 2], ["texts", 3]]


def test_concurrent_requests_are_answered_in_order(
    client: TestClient, clear_reviews: list[tuple[str, str]]
) -> None:
    texts = [text for text, _ in clear_reviews]
    expected = [label for _, label in clear_reviews]

    def rotated(items: list, i: int) -> list:
        return items[i % 4 :] + items[: i % 4]

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(
            pool.map(
                lambda i: post_classify(client, {"texts": rotated(texts, i)}), range(48)
            )
        )
    for i, response in enumerate(responses):
        assert response.status_code == 200
        assert [item["label"] for item in response.json()] == rotated(expected, i)


# /metrics needs the multi-process setup of `bentoml serve`: see tests/e2e.
@pytest.mark.parametrize("path", ["/livez", "/readyz", "/", "/docs.json"])
def test_builtin_endpoints_answer(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_openapi_documents_classify(client: TestClient) -> None:
    spec = client.get("/docs.json").json()
    assert "/classify" in spec["paths"]
    assert "post" in spec["paths"]["/classify"]


def test_number_refusal_names_the_number(client: TestClient) -> None:
    response = post_classify(client, {"texts": ["123458303"]})
    assert response.status_code == 400
    assert response.json()["detail"][0]["msg"] == (
        "review cannot be a number, got 123458303"
    )


def test_served_spec_declares_the_error_body(client: TestClient) -> None:
    spec = client.get("/docs.json").json()
    responses = spec["paths"]["/classify"]["post"]["responses"]
    assert {"400", "413", "415", "503"} <= set(responses)
    assert "BrokenRule" in spec["components"]["schemas"]


def request_body(client: TestClient, path: str) -> dict:
    return client.get("/docs.json").json()["paths"][path]["post"]["requestBody"]


@pytest.mark.parametrize(
    ("path", "max_texts"), [("/classify", service.SETTINGS.max_texts), ("/explain", 32)]
)
def test_served_spec_says_the_review_rules(
    client: TestClient, path: str, max_texts: int
) -> None:
    body = request_body(client, path)
    assert body["required"] is True
    texts = body["content"]["application/json"]["schema"]["properties"]["texts"]
    assert (texts["minItems"], texts["maxItems"]) == (1, max_texts)
    assert texts["items"] == REVIEW_SCHEMA


def test_extra_fields_are_ignored_as_the_spec_allows(client: TestClient) -> None:
    response = post_classify(client, {"texts": ["a fine film"], "lang": "en"})
    assert response.status_code == 200
    assert len(response.json()) == 1
    schema = request_body(client, "/classify")["content"]["application/json"]["schema"]
    assert "additionalProperties" not in schema

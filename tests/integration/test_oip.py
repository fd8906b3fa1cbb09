"""The Open Inference Protocol endpoints, in process: answers and errors."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

INFER = "/v2/models/sentiment/infer"


def texts_tensor(texts: list[object]) -> dict[str, object]:
    return {"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}


def test_health_server_and_model_metadata(
    client: TestClient, trained_model: str
) -> None:
    assert client.get("/v2/health/live").status_code == 200
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2").json()["extensions"] == []
    version = trained_model.partition(":")[2]
    metadata = client.get("/v2/models/sentiment").json()
    assert metadata["versions"] == [version]
    assert [o["name"] for o in metadata["outputs"]] == [
        "label",
        "score",
        "probabilities",
    ]
    assert client.get("/v2/models/sentiment/ready").json()["ready"] is True
    assert (
        client.get(f"/v2/models/sentiment/versions/{version}/ready").status_code == 200
    )


def test_infer_answers_like_classify(client: TestClient, trained_model: str) -> None:
    texts = ["a wonderful, moving film", "a dull, lifeless mess"]
    classify = client.post("/classify", json={"texts": texts}).json()
    answer = client.post(INFER, json={"id": "q1", "inputs": [texts_tensor(texts)]})
    assert answer.status_code == 200
    assert answer.headers["x-model-version"] == trained_model
    body = answer.json()
    assert body["id"] == "q1" and body["model_name"] == "sentiment"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["label"]["data"] == [p["label"] for p in classify]
    assert outputs["score"]["data"] == pytest.approx([p["score"] for p in classify])
    assert outputs["probabilities"]["shape"] == [2, 2]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (
            {"inputs": [texts_tensor(["a fine film", "ok"])]},
            400,
            "review_too_short at inputs[0].data[1]",
        ),
        ({"inputs": [texts_tensor([])]}, 400, "too_short"),
        (
            {"inputs": [{"datatype": "FP32", "shape": [1], "data": [1.0]}]},
            400,
            "must be BYTES",
        ),
        (
            {"inputs": [texts_tensor(["a fine film"])], "outputs": [{"name": "x"}]},
            400,
            "unknown output",
        ),
    ],
)
def test_bad_requests_are_4xx_naming_the_problem(
    client: TestClient, body: dict[str, object], status: int, fragment: str
) -> None:
    answer = client.post(INFER, json=body)
    assert answer.status_code == status
    assert fragment in answer.json()["error"]


def test_an_unknown_model_or_version_is_404(client: TestClient) -> None:
    tensor = {"inputs": [texts_tensor(["a fine film"])]}
    for path in ("/v2/models/other/infer", "/v2/models/sentiment/versions/nope/infer"):
        answer = client.post(path, json=tensor)
        assert answer.status_code == 404 and "not found" in answer.json()["error"]


def test_binary_tensors_are_refused_clearly(client: TestClient) -> None:
    answer = client.post(
        INFER,
        content=b'{"inputs": []}',
        headers={"Inference-Header-Content-Length": "14"},
    )
    assert answer.status_code == 400 and "binary" in answer.json()["error"]

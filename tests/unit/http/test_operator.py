"""Unit tests for sentiment.http.operator: /model-info and the cached /docs.json."""

from __future__ import annotations

import json

from sentiment.http.operator import OperatorEndpoints
from tests.asgi import FakeApp, request


def test_operator_endpoints_answer_and_cache_the_spec() -> None:
    calls: list[str] = []

    def spec() -> dict[str, object]:
        calls.append("spec")
        return {"openapi": "3.0.2"}

    endpoints = OperatorEndpoints(
        FakeApp(), model_info=lambda: {"tag": "sentiment:x"}, spec=spec
    )
    info = request(endpoints, method="GET", path="/model-info")
    assert json.loads(info.body) == {"tag": "sentiment:x"}
    for _ in range(2):
        docs = request(endpoints, method="GET", path="/docs.json")
        assert json.loads(docs.body) == {"openapi": "3.0.2"}
    assert calls == ["spec"]
    assert request(endpoints, method="GET", path="/livez").body == b"[]"

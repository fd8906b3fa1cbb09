"""Unit tests for the ASGI guard in front of /classify, with a fake downstream app."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

import service

SETTINGS = dataclasses.replace(service.Settings(), max_body_bytes=64, max_in_flight=2)


@dataclasses.dataclass
class Result:
    status: int
    headers: dict[bytes, bytes]
    body: bytes
    app_saw: bytes | None


def call(
    body: bytes = b'{"texts": ["fine film"]}',
    headers: dict[bytes, bytes] | None = None,
    settings: service.Settings = SETTINGS,
    app_status: int = 200,
    app_body: bytes = b"[]",
    path: str = "/classify",
    chunked: bool = False,
) -> Result:
    """Send one request through ClassifyGuard and collect the response."""
    seen: dict[str, Any] = {"body": None}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        seen["body"] = message["body"]
        await send(
            {
                "type": "http.response.start",
                "status": app_status,
                "headers": [(b"content-length", str(len(app_body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": app_body})

    guard = service.ClassifyGuard(app, settings)
    chunks = [body[:10], body[10:]] if chunked else [body]
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    request_headers = {b"content-type": b"application/json", **(headers or {})}
    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": list(request_headers.items()),
    }
    asyncio.run(guard(scope, receive, send))
    start = sent[0]
    return Result(
        status=start["status"],
        headers=dict(start.get("headers", [])),
        body=b"".join(m.get("body", b"") for m in sent[1:]),
        app_saw=seen["body"],
    )


def rule_of(result: Result) -> str:
    return json.loads(result.body)["detail"][0]["type"]


def test_good_request_reaches_the_app_with_its_body() -> None:
    result = call(chunked=True)
    assert result.status == 200
    assert result.app_saw == b'{"texts": ["fine film"]}'


@pytest.mark.parametrize(
    "content_type",
    [b"text/plain", b"multipart/form-data; boundary=x", b"application/xml"],
)
def test_wrong_content_type_is_415(content_type: bytes) -> None:
    result = call(headers={b"content-type": content_type})
    assert result.status == 415 and rule_of(result) == "unsupported_media_type"
    assert result.app_saw is None


def test_json_with_charset_is_accepted() -> None:
    assert (
        call(headers={b"content-type": b"application/json; charset=utf-8"}).status
        == 200
    )


@pytest.mark.parametrize("chunked", [False, True])
def test_body_over_the_cap_is_413_even_without_content_length(chunked: bool) -> None:
    result = call(body=b'{"texts": ["' + b"a" * 100 + b'"]}', chunked=chunked)
    assert result.status == 413 and rule_of(result) == "body_too_large"
    assert result.app_saw is None


def test_declared_length_over_the_cap_is_413_before_reading() -> None:
    result = call(headers={b"content-length": b"1000000"})
    assert result.status == 413


def test_api_key_required_when_set() -> None:
    settings = dataclasses.replace(SETTINGS, api_key="s3cret")
    missing = call(settings=settings)
    wrong = call(settings=settings, headers={b"authorization": b"Bearer nope"})
    right = call(settings=settings, headers={b"authorization": b"Bearer s3cret"})
    assert missing.status == wrong.status == 401
    assert rule_of(missing) == "unauthorized"
    assert missing.headers[b"www-authenticate"] == b"Bearer"
    assert b"s3cret" not in missing.body
    assert right.status == 200


def test_other_paths_pass_through_untouched() -> None:
    settings = dataclasses.replace(SETTINGS, api_key="s3cret")
    assert call(settings=settings, path="/livez").status == 200


def test_shed_503_gets_clear_body_and_retry_after() -> None:
    result = call(app_status=503, app_body=b'{"error": "An unexpected error"}')
    assert result.status == 503
    assert result.headers[b"retry-after"] == b"1"
    assert int(result.headers[b"content-length"]) == len(result.body)
    assert rule_of(result) == "overloaded"
    assert b"max_latency_ms" in result.body


def test_in_flight_limit_gives_429_with_retry_after() -> None:
    guard = service.ClassifyGuard(lambda *a: None, SETTINGS)
    guard.in_flight = SETTINGS.max_in_flight

    async def run() -> tuple[Any, bytes]:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        return await guard.check(
            {"headers": [(b"content-type", b"application/json")]}, receive
        )

    refusal, _ = asyncio.run(run())
    assert refusal.status_code == 429
    assert refusal.headers["retry-after"] == "1"


def test_openapi_declares_the_error_body() -> None:
    spec = service.openapi_spec()
    responses = spec["paths"]["/classify"]["post"]["responses"]
    assert {"400", "401", "413", "415", "429", "503"} <= set(responses)
    assert "500" not in responses
    error = spec["components"]["schemas"]["Error"]
    assert error["properties"]["detail"]["type"] == "array"

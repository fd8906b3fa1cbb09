"""sentiment.http.admission: the ASGI layer in front of the service."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from sentiment import leases
from sentiment.config import Settings
from sentiment.http.admission import Admission
from tests.asgi import FakeApp, admission_for, request
from tests.unit.uploads import UPLOAD_TYPE, upload_body

LIMIT, SERVICE_S = 4, 0.01  # capacity: 400 requests/s
BUDGET, REFUSE_AFTER, MAX_QUEUE = 0.5, 1.0, 10_000


class BlockingApp:
    """Holds every request until ``release`` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.entered += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"[]"})


def scope_for(headers: dict[bytes, bytes] | None = None) -> dict[str, Any]:
    all_headers = {b"content-type": b"application/json", **(headers or {})}
    return {
        "type": "http",
        "method": "POST",
        "path": "/classify",
        "headers": list(all_headers.items()),
    }


async def call(app: Admission, headers: dict[bytes, bytes] | None = None) -> Message:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope_for(headers), receive, send)
    return {**sent[0], "body": sent[1]["body"]}


def while_one_holds_the_slot(
    admission: Admission, inner: BlockingApp, headers: dict[bytes, bytes]
) -> Message:
    """A second request's answer while a first holds the only slot (then released)."""

    async def scenario() -> Message:
        first = asyncio.create_task(call(admission))
        await asyncio.sleep(0)
        second = await call(admission, headers)
        inner.release.set()
        assert (await first)["status"] == 200
        return second

    return asyncio.run(scenario())


def test_overload_refusal_is_503_with_retry_after_and_the_error_shape() -> None:
    settings = Settings(max_in_flight=1, max_queue_wait_ms=1, refuse_after_ms=5)
    inner = BlockingApp()
    admission = admission_for(inner, settings)
    refused = while_one_holds_the_slot(admission, inner, {b"x-request-id": b"req-42"})
    headers = dict(refused["headers"])
    body = json.loads(refused["body"])
    assert refused["status"] == 503 and headers[b"retry-after"] == b"1"
    assert int(headers[b"content-length"]) == len(refused["body"])
    assert body["detail"][0]["type"] == "overloaded"
    assert body["request_id"] == "req-42" and headers[b"x-request-id"] == b"req-42"
    assert inner.entered == 1, "the refused request never reached the service"
    assert admission.queue.in_flight == 0 and not admission.queue.waiting


def test_api_key_required_when_set() -> None:
    admission = admission_for(FakeApp(), Settings(API_KEY="s3cret"))
    missing = request(admission)
    wrong = request(admission, headers={b"authorization": b"Bearer nope"})
    right = request(admission, headers={b"authorization": b"Bearer s3cret"})
    assert missing.status == wrong.status == 401
    assert json.loads(missing.body)["detail"][0]["type"] == "unauthorized"
    assert missing.headers[b"www-authenticate"] == b"Bearer"
    assert b"s3cret" not in missing.body
    assert len(json.loads(missing.body)["request_id"]) == 32
    assert right.status == 200


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/classify", {}),  # 401
        ("/nowhere", {}),  # 404
        ("/classify", {b"authorization": b"Bearer s3cret", b"content-type": b"a/b"}),
    ],
)
def test_a_refusal_from_the_head_drains_the_body_first(
    path: str, headers: dict[bytes, bytes]
) -> None:
    admission = admission_for(FakeApp(), Settings(API_KEY="s3cret"))
    body = b"x" * 5000
    answer = request(admission, body, headers, path=path, chunk_size=256)
    assert answer.status in (401, 404, 415)
    assert answer.chunks_read == -(-len(body) // 256), "read to its end"
    assert b"connection" not in answer.headers, "so the connection lives"


def test_a_refusal_past_the_drain_closes_the_connection() -> None:
    admission = admission_for(FakeApp(), Settings(API_KEY="s3cret"))
    answer = request(admission, b"{}", {b"content-length": b"%d" % (1 << 30)})
    assert answer.status == 401 and answer.chunks_read == 0
    assert answer.headers[b"connection"] == b"close"


@pytest.mark.parametrize(
    "content_type",
    [b"text/plain", b"multipart/form-data; boundary=x", b"application/xml"],
)
def test_wrong_content_type_is_415_naming_it(content_type: bytes) -> None:
    app = FakeApp()
    result = request(
        admission_for(app, Settings()), headers={b"content-type": content_type}
    )
    assert result.status == 415 and app.seen == []
    assert json.loads(result.body)["detail"][0]["type"] == "unsupported_media_type"
    assert content_type.decode() in json.loads(result.body)["error"]


def test_json_with_charset_is_accepted() -> None:
    charset = {b"content-type": b"application/json; charset=utf-8"}
    assert request(admission_for(FakeApp(), Settings()), headers=charset).status == 200


def test_api_key_is_checked_before_content_type() -> None:
    admission = admission_for(FakeApp(), Settings(API_KEY="k"))
    plain = {b"content-type": b"text/plain"}
    assert request(admission, headers=plain).status == 401
    auth = {b"authorization": b"Bearer k"}
    assert request(admission, headers={**auth, **plain}).status == 415


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/classify_file/submit", "POST"),
        ("/classify_file", "POST"),
        ("/classify_file/status", "GET"),
        ("/classify_file/get", "GET"),
        ("/classify_file/retry", "POST"),
        ("/classify_file/cancel", "PUT"),
    ],
)
def test_file_jobs_need_the_api_key_too(path: str, method: str) -> None:
    admission = admission_for(FakeApp(), Settings(API_KEY="s3cret"))
    refused = request(admission, path=path, method=method)
    assert refused.status == 401
    assert json.loads(refused.body)["detail"][0]["type"] == "unauthorized"
    auth = {b"authorization": b"Bearer s3cret", b"content-type": UPLOAD_TYPE}
    body = upload_body()
    assert (
        request(admission, body, path=path, method=method, headers=auth).status == 200
    )
    open_admission = admission_for(FakeApp(), Settings())
    plain = {b"content-type": UPLOAD_TYPE}
    assert (
        request(open_admission, body, path=path, method=method, headers=plain).status
        == 200
    )


def test_other_paths_pass_through_untouched() -> None:
    admission = admission_for(FakeApp(), Settings(API_KEY="s3cret"))
    assert request(admission, path="/livez", method="GET").status == 200
    assert admission.queue.in_flight == 0


@pytest.mark.parametrize(
    ("path", "status", "rule"),
    [
        ("/classify\n", 400, "bad_path"),
        ("/explain\r", 400, "bad_path"),
        ("/v2/models/sentiment/infer\n", 400, "bad_path"),
        ("/classify/", 404, "no_such_route"),
        ("/nope", 404, "no_such_route"),
        ("/v2/models/other/infer", 404, "no_such_route"),
    ],
)
def test_paths_that_are_not_exactly_a_route_never_pass(
    path: str, status: int, rule: str
) -> None:
    app = FakeApp()
    for auth in ({}, {b"authorization": b"Bearer k"}):
        answer = request(
            admission_for(app, Settings(API_KEY="k")), path=path, headers=auth
        )
        assert answer.status == status
        assert json.loads(answer.body)["detail"][0]["type"] == rule
    assert app.seen == []


def test_the_key_goes_no_further_than_the_edge() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["headers"])
        await FakeApp()(scope, receive, send)

    admission = admission_for(app, Settings(API_KEY="k"))
    headers = {b"authorization": b"Bearer k", b"x-other": b"1"}
    assert request(admission, headers=headers).status == 200
    assert (
        request(admission, path="/livez", method="GET", headers=headers).status == 200
    )
    for forwarded in seen:
        assert all(name.lower() != b"authorization" for name, _ in forwarded)
        assert (b"x-other", b"1") in forwarded


def test_protected_routes_need_the_key_whatever_the_method() -> None:
    admission = admission_for(FakeApp(), Settings(API_KEY="k"))
    for method in ("GET", "PUT", "DELETE", "FOO"):
        assert request(admission, method=method).status == 401


def tenants_settings(tmp_path: Path, **options: Any) -> Settings:
    path = tmp_path / "tenants.json"
    tenants = {"a": {"key": "key-a", "weight": 1}, "b": {"key": "key-b", "weight": 1}}
    path.write_text(json.dumps({"tenants": tenants}))
    return Settings(tenants_file=path, **options)


def test_each_key_is_its_tenant_and_its_lease_reaches_the_service(
    tmp_path: Path,
) -> None:
    seen: list[leases.Lease | None] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(leases.current())
        await FakeApp()(scope, receive, send)

    admission = admission_for(app, tenants_settings(tmp_path))
    for key in (b"key-a", b"key-b"):
        answer = request(admission, headers={b"authorization": b"Bearer " + key})
        assert answer.status == 200
    assert request(admission, headers={b"authorization": b"Bearer x"}).status == 401
    assert [lease.tenant for lease in seen if lease] == ["a", "b"]
    assert leases.current() is None, "the lease ends with the request"


@pytest.mark.parametrize("value", [b"abc", b"-5", b"0", b"1.5", b"", b"9" * 12])
def test_a_malformed_deadline_header_is_400_naming_it(value: bytes) -> None:
    app = FakeApp()
    headers = {b"x-request-timeout-ms": value} if value else {}
    answer = request(admission_for(app, Settings()), headers=headers)
    if not value:
        assert answer.status == 200
        return
    assert answer.status == 400 and app.seen == []
    body = json.loads(answer.body)
    assert body["detail"][0]["type"] == "bad_timeout"
    assert "X-Request-Timeout-Ms" in body["error"]


def test_the_deadline_is_clamped_to_the_server_timeout() -> None:
    seen: list[leases.Lease | None] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(leases.current())
        await FakeApp()(scope, receive, send)

    clock = iter([100.0] * 10)
    admission = admission_for(app, Settings(timeout_s=2), clock=lambda: next(clock))
    headers = {b"x-request-timeout-ms": b"60000"}
    assert request(admission, headers=headers).status == 200
    assert seen[0] is not None and seen[0].deadline == pytest.approx(102.0)


def test_a_request_still_waiting_at_its_deadline_gets_504() -> None:
    settings = Settings(max_in_flight=1, max_queue_wait_ms=1000, refuse_after_ms=2000)
    inner = BlockingApp()
    admission = admission_for(inner, settings)
    late = while_one_holds_the_slot(admission, inner, {b"x-request-timeout-ms": b"20"})
    assert late["status"] == 504
    assert json.loads(late["body"])["detail"][0]["type"] == "deadline_exceeded"
    assert inner.entered == 1, "the late request never reached the service"


def test_a_tenant_over_its_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    path = tmp_path / "tenants.json"
    tenants = {"slow": {"key": "k", "rate_per_s": 1}}
    path.write_text(json.dumps({"tenants": tenants}))
    admission = admission_for(FakeApp(), Settings(tenants_file=path))
    auth = {b"authorization": b"Bearer k"}
    assert request(admission, headers=auth).status == 200
    refused = request(admission, headers=auth)
    assert refused.status == 429 and refused.headers[b"retry-after"] == b"1"
    assert json.loads(refused.body)["detail"][0]["type"] == "rate_limited"

"""sentiment.http.admission: the queue on a fake clock, the ASGI layer."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send

from sentiment.config import Settings
from sentiment.http.admission import Admission
from sentiment.http.overload import (
    AdmissionQueue,
    Decisions,
    ServiceRate,
    Ticket,
    TokenBucket,
)
from tests.asgi import FakeApp, request
from tests.unit.uploads import UPLOAD_TYPE, upload_body

LIMIT, SERVICE_S = 4, 0.01  # capacity: 400 requests/s
BUDGET, REFUSE_AFTER, MAX_QUEUE = 0.5, 1.0, 10_000


def new_queue(max_queue: int = MAX_QUEUE, quick_share: float = 0.0) -> AdmissionQueue:
    return AdmissionQueue(LIMIT, BUDGET, REFUSE_AFTER, max_queue, quick_share)


@dataclass
class Simulation:
    """Arrivals at a fixed rate into a queue whose admitted requests take SERVICE_S."""

    queue: AdmissionQueue = field(default_factory=new_queue)
    admitted_waits: list[float] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    finishing: list[float] = field(default_factory=list)  # finish times, sorted
    arrivals: int = 0

    def record(self, decisions: Decisions, now: float) -> None:
        for ticket in decisions.admit:
            self.admitted_waits.append(now - ticket.arrived)
            self.finishing.append(now + SERVICE_S)
        for _, reason in decisions.refuse:
            self.refused[reason] = self.refused.get(reason, 0) + 1
        self.finishing.sort()
        assert self.queue.in_flight <= LIMIT

    def run(self, rate: float, start: float, seconds: float) -> None:
        """Arrivals every 1/rate s from ``start``; finishes happen in time order."""
        step = 1 / rate if rate else 0.01  # no arrivals: a clock tick
        now, end = start, start + seconds
        while now < end:
            while self.finishing and self.finishing[0] <= now:
                done = self.finishing.pop(0)
                self.record(self.queue.finish(done), done)
            if rate:
                self.arrivals += 1
                self.record(self.queue.arrive(Ticket(now), now), now)
            else:
                self.record(self.queue.tick(now), now)
            now += step

    @property
    def accounted(self) -> int:
        served = len(self.admitted_waits)
        return served + sum(self.refused.values()) + len(self.queue.waiting)


def test_idle_request_goes_in_at_once_and_leaves() -> None:
    queue = new_queue()
    ticket = Ticket(0.0)
    assert queue.arrive(ticket, 0.0).admit == [ticket]
    assert queue.finish(0.01).admit == [] and queue.in_flight == 0


def test_at_capacity_requests_wait_first_come_first_served() -> None:
    queue = new_queue()
    tickets = [Ticket(i / 1000) for i in range(LIMIT + 2)]
    for ticket in tickets:
        queue.arrive(ticket, ticket.arrived)
    assert queue.in_flight == LIMIT and len(queue.waiting) == 2
    assert queue.finish(0.1).admit == [tickets[LIMIT]]
    assert queue.finish(0.1).admit == [tickets[LIMIT + 1]]


def test_at_capacity_everything_is_served_within_the_budget() -> None:
    sim = Simulation()
    sim.run(rate=LIMIT / SERVICE_S, start=0.0, seconds=3.0)
    assert sim.refused == {}
    assert max(sim.admitted_waits) <= BUDGET
    assert sim.accounted == sim.arrivals


def test_four_times_overload_serves_at_capacity_within_the_budget() -> None:
    sim = Simulation()
    capacity = LIMIT / SERVICE_S
    sim.run(rate=4 * capacity, start=0.0, seconds=5.0)
    served = len(sim.admitted_waits)
    assert served >= 0.95 * capacity * 5.0, "the model must stay busy"
    assert max(sim.admitted_waits) <= BUDGET, "nobody is served after the budget"
    assert sim.refused.get("waited_too_long", 0) > 0
    assert sim.accounted == sim.arrivals, "every request is served, refused or waiting"


def test_refusals_come_after_refuse_after_not_at_once() -> None:
    queue = new_queue()
    for _ in range(LIMIT + 1):
        queue.arrive(Ticket(0.0), 0.0)
    assert queue.tick(REFUSE_AFTER - 0.01).refuse == []
    refused = queue.tick(REFUSE_AFTER)
    assert [reason for _, reason in refused.refuse] == ["waited_too_long"]


def test_recovery_after_overload_serves_new_requests_without_waiting() -> None:
    sim = Simulation()
    capacity = LIMIT / SERVICE_S
    sim.run(rate=4 * capacity, start=0.0, seconds=2.0)
    sim.run(rate=0, start=2.0, seconds=REFUSE_AFTER + 0.1)  # the held ones get 503s
    assert not sim.queue.waiting and sim.queue.in_flight == 0
    before = len(sim.admitted_waits)
    sim.run(rate=capacity / 2, start=3.2, seconds=1.0)
    assert sim.admitted_waits[before:] and max(sim.admitted_waits[before:]) == 0.0
    assert sim.accounted == sim.arrivals


def test_oldest_within_budget_goes_first_past_the_held_ones() -> None:
    queue = new_queue()
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    held, fresh, fresher = Ticket(0.0), Ticket(0.7), Ticket(0.8)
    for ticket in (held, fresh, fresher):
        queue.arrive(ticket, ticket.arrived)
    assert queue.finish(0.9).admit == [fresh]  # held waited 0.9 > budget
    assert list(queue.waiting) == [held, fresher]


def test_over_max_queue_the_oldest_is_refused() -> None:
    queue = new_queue(max_queue=2)
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    first, second, third = Ticket(0.1), Ticket(0.2), Ticket(0.3)
    queue.arrive(first, 0.1)
    queue.arrive(second, 0.2)
    assert queue.arrive(third, 0.3).refuse == [(first, "queue_full")]


def test_token_bucket_allows_its_rate_and_burst_only() -> None:
    bucket = TokenBucket(rate=100.0, burst=10.0)
    assert sum(bucket.take(0.0) for _ in range(20)) == 10
    assert not bucket.take(0.0)
    assert bucket.next_token_at(0.0) == pytest.approx(0.01)
    assert sum(bucket.take(0.5) for _ in range(100)) == 10  # capped at the burst
    assert TokenBucket(rate=0.0, burst=0.0).next_token_at(1.0) is None


def test_service_rate_is_measured_only_while_requests_wait() -> None:
    rate = ServiceRate()
    for i in range(200):  # 100/s, but nobody waited: that is the arrival rate
        rate.finish(i / 100, waiting=False)
    assert rate.per_s is None
    for i in range(200, 400):
        rate.finish(i / 100, waiting=True)
    assert rate.per_s == pytest.approx(100, rel=0.05)


def test_quick_refusals_need_a_measured_rate_and_stop_at_their_share() -> None:
    sim = Simulation(queue=new_queue(quick_share=1.0))
    capacity = LIMIT / SERVICE_S
    sim.run(rate=capacity / 2, start=0.0, seconds=1.0)  # idle: nothing measured
    assert sim.queue.service.per_s is None and sim.refused == {}
    sim.run(rate=4 * capacity, start=1.0, seconds=4.0)
    quick = sim.refused.get("expected_wait", 0) + sim.refused.get("missed_budget", 0)
    assert sim.queue.service.per_s == pytest.approx(capacity, rel=0.05)
    assert quick > 0, "past the measured rate's budget of waiting, refuse at once"
    assert quick <= capacity * 4.0 * 1.1, "quick refusals stay within their share"
    assert len(sim.admitted_waits) >= 0.95 * capacity * 4.0, "the model stays busy"
    assert max(sim.admitted_waits) <= BUDGET
    assert sim.accounted == sim.arrivals


def test_quick_refusal_comes_at_arrival_when_the_queue_is_a_budget_long() -> None:
    queue = new_queue(quick_share=1.0)
    queue.service.per_s = LIMIT / SERVICE_S
    queue.pace_quick_refusals(0.0)
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    within_budget = int(BUDGET * queue.service.per_s)
    for _ in range(within_budget):
        assert queue.arrive(Ticket(0.0), 0.0).refuse == []
    late = Ticket(0.1)  # quick refusals earned since 0.0
    assert queue.arrive(late, 0.1).refuse == [(late, "expected_wait")]


def test_without_quick_refusals_overload_is_only_held() -> None:
    sim = Simulation()
    sim.run(rate=4 * LIMIT / SERVICE_S, start=0.0, seconds=3.0)
    assert set(sim.refused) == {"waited_too_long"}


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


def test_overload_refusal_is_503_with_retry_after_and_the_error_shape() -> None:
    settings = Settings(max_in_flight=1, max_queue_wait_ms=1, refuse_after_ms=5)
    inner = BlockingApp()
    admission = Admission(inner, settings)

    async def scenario() -> Message:
        first = asyncio.create_task(call(admission))
        await asyncio.sleep(0)
        refused = await call(admission, {b"x-request-id": b"req-42"})
        inner.release.set()
        assert (await first)["status"] == 200
        return refused

    refused = asyncio.run(scenario())
    headers = dict(refused["headers"])
    body = json.loads(refused["body"])
    assert refused["status"] == 503 and headers[b"retry-after"] == b"1"
    assert int(headers[b"content-length"]) == len(refused["body"])
    assert body["detail"][0]["type"] == "overloaded"
    assert body["request_id"] == "req-42" and headers[b"x-request-id"] == b"req-42"
    assert inner.entered == 1, "the refused request never reached the service"
    assert admission.queue.in_flight == 0 and not admission.queue.waiting


def test_api_key_required_when_set() -> None:
    admission = Admission(FakeApp(), Settings(API_KEY="s3cret"))
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
    "content_type",
    [b"text/plain", b"multipart/form-data; boundary=x", b"application/xml"],
)
def test_wrong_content_type_is_415_naming_it(content_type: bytes) -> None:
    app = FakeApp()
    result = request(
        Admission(app, Settings()), headers={b"content-type": content_type}
    )
    assert result.status == 415 and app.seen == []
    assert json.loads(result.body)["detail"][0]["type"] == "unsupported_media_type"
    assert content_type.decode() in json.loads(result.body)["error"]


def test_json_with_charset_is_accepted() -> None:
    charset = {b"content-type": b"application/json; charset=utf-8"}
    assert request(Admission(FakeApp(), Settings()), headers=charset).status == 200


def test_api_key_is_checked_before_content_type() -> None:
    admission = Admission(FakeApp(), Settings(API_KEY="k"))
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
    admission = Admission(FakeApp(), Settings(API_KEY="s3cret"))
    refused = request(admission, path=path, method=method)
    assert refused.status == 401
    assert json.loads(refused.body)["detail"][0]["type"] == "unauthorized"
    auth = {b"authorization": b"Bearer s3cret", b"content-type": UPLOAD_TYPE}
    body = upload_body()
    assert (
        request(admission, body, path=path, method=method, headers=auth).status == 200
    )
    open_admission = Admission(FakeApp(), Settings())
    plain = {b"content-type": UPLOAD_TYPE}
    assert (
        request(open_admission, body, path=path, method=method, headers=plain).status
        == 200
    )


def test_other_paths_pass_through_untouched() -> None:
    admission = Admission(FakeApp(), Settings(API_KEY="s3cret"))
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
        answer = request(Admission(app, Settings(API_KEY="k")), path=path, headers=auth)
        assert answer.status == status
        assert json.loads(answer.body)["detail"][0]["type"] == rule
    assert app.seen == []


def test_the_key_goes_no_further_than_the_edge() -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(scope["headers"])
        await FakeApp()(scope, receive, send)

    admission = Admission(app, Settings(API_KEY="k"))
    headers = {b"authorization": b"Bearer k", b"x-other": b"1"}
    assert request(admission, headers=headers).status == 200
    assert (
        request(admission, path="/livez", method="GET", headers=headers).status == 200
    )
    for forwarded in seen:
        assert all(name.lower() != b"authorization" for name, _ in forwarded)
        assert (b"x-other", b"1") in forwarded


def test_protected_routes_need_the_key_whatever_the_method() -> None:
    admission = Admission(FakeApp(), Settings(API_KEY="k"))
    for method in ("GET", "PUT", "DELETE", "FOO"):
        assert request(admission, method=method).status == 401

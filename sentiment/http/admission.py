"""Overload control: admit, hold or refuse a request before BentoML reads it.

:class:`Admission` is the outermost layer of each worker, in front of BentoML's own
middlewares. For ``POST /classify`` and ``/explain`` it decides from the headers
alone, with answers built once at start:

* 401 (wrong API key) and 415 (not JSON) at once;
* otherwise the request is *admitted* when fewer than ``max_in_flight`` requests
  are inside the service, or *queued*.

The queue (:class:`AdmissionQueue`, pure logic with the clock passed in) is the
overload policy, chosen by measurement (docs/overload.md):

* a finished request lets the **oldest queued request that is still within the
  budget** in (``max_queue_wait_ms``): first come, first served while the queue
  keeps up, so a crowd of clients all get served at capacity;
* a request that has waited past the budget will not be served: it is **held**
  (back-pressure: its client sends nothing more meanwhile) and answered 503 with
  ``Retry-After`` after ``refuse_after_ms``. Refusing it at once would make a
  client that retries at once cost a refusal per round trip: measured, those
  refusals filled the CPUs and goodput collapsed;
* beyond ``max_queue`` waiting requests the oldest is refused at once (memory).

So an admitted request never waited longer than the budget, the number of requests
inside the service stays where batching is efficient (BentoML's batching queue
never has to shed), and a refusal costs a few microseconds of Python on top of
uvicorn's parsing.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from sentiment.config import Settings
from sentiment.http.headers import RequestHeaders
from sentiment.http.refusals import (
    OVERLOAD_RETRY_S,
    Refusal,
    is_json,
    retry_after,
    unsupported_media_type,
)
from sentiment.http.roles import RolePolicy
from sentiment.http.routes import CONTROL_CHARACTER, RouteTable, default_table
from sentiment.http.uploads import Uploads
from sentiment.patches import wrap_asgi_app
from sentiment.telemetry.metrics import (
    EXPECTED_WAIT,
    IN_FLIGHT,
    LIMIT,
    QUEUE_DELAY,
    QUEUED,
    REFUSALS,
    SERVICE_RATE,
)
from sentiment.telemetry.request_ids import fresh_id

GAUGE_EVERY_S = 0.5
TIMER_MIN_S = 0.005
REFUSAL_REASONS = ("expected_wait", "missed_budget", "waited_too_long", "queue_full")


@dataclass
class Ticket:
    """One request waiting for admission."""

    arrived: float
    future: asyncio.Future[bool] | None = None  # None in the queue's unit tests


@dataclass
class Decisions:
    """What to do after an event: these tickets go in, these get a 503."""

    admit: list[Ticket] = field(default_factory=list)
    refuse: list[tuple[Ticket, str]] = field(default_factory=list)


class TokenBucket:
    """At most ``rate`` events a second, ``burst`` at once. Times in seconds."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at: float | None = None

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self.refill(now)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last call."""
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def next_token_at(self, now: float) -> float | None:
        """When the next token comes (None: never, the rate is 0)."""
        self.refill(now)
        if self.tokens >= 1:
            return now
        return None if self.rate <= 0 else now + (1 - self.tokens) / self.rate


class ServiceRate:
    """Requests a second the worker finishes while saturated (EWMA of windows).

    Only windows in which a request was waiting at every finish count: below
    capacity the finish rate measures the arrivals, not what the model can do.
    """

    WINDOW_S = 0.5
    WEIGHT = 0.5

    def __init__(self) -> None:
        self.per_s: float | None = None
        self.window_start: float | None = None
        self.finished = 0
        self.saturated = True

    def finish(self, now: float, waiting: bool) -> bool:
        """One request finished; ``waiting``: others were queued behind it.

        Returns:
            Whether the estimate changed.
        """
        if self.window_start is None:
            self.window_start, self.finished, self.saturated = now, 0, True
        self.finished += 1
        self.saturated = self.saturated and waiting
        elapsed = now - self.window_start
        if elapsed < self.WINDOW_S:
            return False
        self.window_start = None
        if self.saturated:
            measured = self.finished / elapsed
            self.per_s = (
                measured
                if self.per_s is None
                else self.WEIGHT * measured + (1 - self.WEIGHT) * self.per_s
            )
        return self.saturated


class AdmissionQueue:
    """Which waiting requests go in, wait, or get refused. Times in seconds.

    Args:
        limit: most requests inside the service at once.
        budget: the longest a request may have waited and still be admitted.
        refuse_after: when a request that missed the budget gets its 503 at the
            latest (back-pressure when quick refusals run out).
        max_queue: most waiting requests; beyond it the oldest is refused.
        quick_share: 503s answered as soon as they are known, as a share of the
            measured service rate (1.0: one quick refusal per request served).
    """

    def __init__(
        self,
        limit: int,
        budget: float,
        refuse_after: float,
        max_queue: int,
        quick_share: float = 0.0,
    ) -> None:
        self.limit = limit
        self.budget = budget
        self.refuse_after = max(refuse_after, budget)
        self.max_queue = max_queue
        self.in_flight = 0
        self.waiting: deque[Ticket] = deque()
        self.quick_share = quick_share
        self.quick = TokenBucket(0.0, 0.0)
        self.service = ServiceRate()

    def arrive(self, ticket: Ticket, now: float) -> Decisions:
        """A request arrives: in at once if there is room and nobody waits.

        When the queue ahead of it already holds more than the budget's worth of
        work (Little's law with the measured service rate), it is refused at
        once while quick refusals last; otherwise it waits.
        """
        decisions = self.expire(now)
        if self.in_flight < self.limit and not self.waiting:
            self.in_flight += 1
            decisions.admit.append(ticket)
            return decisions
        if self.expected_wait(now) > self.budget and self.quick.take(now):
            decisions.refuse.append((ticket, "expected_wait"))
            return self.fill(decisions, now)
        self.waiting.append(ticket)
        while len(self.waiting) > self.max_queue:
            decisions.refuse.append((self.waiting.popleft(), "queue_full"))
        return self.fill(decisions, now)

    def expected_wait(self, now: float) -> float:
        """Seconds a request arriving now would wait (0 until the rate is known)."""
        rate = self.service.per_s
        if not rate or not self.waiting:
            return 0.0
        ahead = len(self.waiting) - self.first_within_budget(now)
        return (ahead + 1) / rate

    def finish(self, now: float) -> Decisions:
        """An admitted request was answered: let the next ones in."""
        self.in_flight -= 1
        if self.service.finish(now, bool(self.waiting)):
            self.pace_quick_refusals(now)
        return self.tick(now)

    def pace_quick_refusals(self, now: float) -> None:
        """Quick refusals follow the service rate: their CPU stays a fixed share."""
        rate = self.quick_share * (self.service.per_s or 0.0)
        self.quick.refill(now)
        self.quick.rate, self.quick.burst = rate, max(1.0, rate / 10) if rate else 0.0

    def tick(self, now: float) -> Decisions:
        """Refuse the requests whose time has come; admit while there is room."""
        return self.fill(self.expire(now), now)

    def fill(self, decisions: Decisions, now: float) -> Decisions:
        """Admit waiting requests within the budget while there is room."""
        while self.in_flight < self.limit:
            ticket = self.next_within_budget(now)
            if ticket is None:
                break
            self.in_flight += 1
            decisions.admit.append(ticket)
        return decisions

    def next_deadline(self, now: float) -> float | None:
        """When the oldest waiting request is next due a decision (None: nobody)."""
        if not self.waiting:
            return None
        head = self.waiting[0].arrived
        forced = head + self.refuse_after
        missed = head + self.budget
        if missed > now:
            return min(forced, missed)
        quick = self.quick.next_token_at(now)
        return forced if quick is None else min(forced, quick)

    def next_within_budget(self, now: float) -> Ticket | None:
        """Take the oldest waiting request that has not waited past the budget.

        The queue is in arrival order, so those within the budget are its newest
        part; the older ones stay held until :meth:`expire` refuses them.
        """
        if not self.waiting or now - self.waiting[-1].arrived > self.budget:
            return None
        if now - self.waiting[0].arrived <= self.budget:
            return self.waiting.popleft()
        index = self.first_within_budget(now)
        ticket = self.waiting[index]
        del self.waiting[index]
        return ticket

    def first_within_budget(self, now: float) -> int:
        """Index of the oldest request within the budget (binary search).

        ``len(self.waiting)`` when every waiting request is past it.
        """
        low, high = 0, len(self.waiting)
        while low < high:
            middle = (low + high) // 2
            if now - self.waiting[middle].arrived <= self.budget:
                high = middle
            else:
                low = middle + 1
        return low

    def expire(self, now: float) -> Decisions:
        """Refuse the requests past the budget.

        At once while quick refusals last; else at ``refuse_after`` (held: their
        clients wait instead of sending again).
        """
        decisions = Decisions()
        waiting = self.waiting
        while waiting and now - waiting[0].arrived >= self.refuse_after:
            decisions.refuse.append((waiting.popleft(), "waited_too_long"))
        while (
            waiting and now - waiting[0].arrived > self.budget and self.quick.take(now)
        ):
            decisions.refuse.append((waiting.popleft(), "missed_budget"))
        return decisions

    def oldest_wait(self, now: float) -> float:
        """Seconds the oldest waiting request has waited (0 when none waits)."""
        return now - self.waiting[0].arrived if self.waiting else 0.0


class Admission:
    """The outermost ASGI layer: the path, the key, uploads, overload control.

    Every HTTP request is decided here first, in this order, from its head:

    1. its path must be exactly a known route (:mod:`sentiment.http.routes`): 400 for
       control characters, 404 otherwise, before BentoML's metrics see it;
    2. a route that needs the API key gets it or a 401; the key is then removed
       from the request; a route this replica's ``SENTIMENT_ROLE`` does not serve
       is a 421 naming where it belongs (:mod:`sentiment.http.roles`);
    3. a ``POST`` to the model needs JSON (415) and goes through overload
       control (module docstring);
    4. a file upload is counted as it streams and checked (:class:`Uploads`).

    Args:
        app: BentoML's whole ASGI app.
        settings: the service's settings.
        clock: seconds, monotonic (tests pass a fake).
        routes: the service's routes (default: its APIs, no versioned V2 paths).
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        clock: Callable[[], float] = time.monotonic,
        routes: RouteTable | None = None,
    ) -> None:
        self.app = app
        self.clock = clock
        self.routes = routes or default_table(settings.model_name)
        self.role = RolePolicy(settings.role, settings.jobs_url, settings.online_url)
        self.uploads = Uploads(app, settings)
        self.queue = AdmissionQueue(
            settings.max_in_flight,
            settings.max_queue_wait_ms / 1000,
            settings.refuse_after_ms / 1000,
            settings.max_queue,
            settings.quick_refusal_share,
        )
        key = settings.api_key.get_secret_value()
        self.expected_auth = f"Bearer {key}".encode() if key else None
        retry = [retry_after(OVERLOAD_RETRY_S)]
        self.unauthorized = Refusal(
            401,
            "unauthorized",
            "missing or wrong API key: send 'Authorization: Bearer <API_KEY>'",
            [(b"www-authenticate", b"Bearer")],
        )
        self.not_found = Refusal(
            404, "no_such_route", "no such endpoint: see /docs.json for the routes"
        )
        self.no_such_model = Refusal(
            404,
            "no_such_route",
            f"model not found: this server serves {settings.model_name}, at the "
            f"version GET /v2/models/{settings.model_name} names",
        )
        self.bad_path = Refusal(
            400, "bad_path", "the path must not contain control characters"
        )
        self.overloaded = Refusal(
            503,
            "overloaded",
            "server busy: the request could not be served within "
            f"max_queue_wait_ms={settings.max_queue_wait_ms}, retry later",
            retry,
        )
        self.reasons = {
            reason: REFUSALS.labels(reason=reason) for reason in REFUSAL_REASONS
        }
        self.gauges_at = 0.0
        self.timer: asyncio.TimerHandle | None = None
        LIMIT.set(settings.max_in_flight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Decide a request from its head (class docstring), then pass it on."""
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # no route takes one
                return await send({"type": "websocket.close", "code": 1008})
            return await self.app(scope, receive, send)
        route = self.routes.find(scope["path"])
        headers = RequestHeaders.of(scope)
        refusal: Refusal | None = None
        if route is None:
            refusal = self.unknown_path(scope["path"])
            return await refusal.send(send, headers.request_id or fresh_id().encode())
        if route.needs_key and not self.key_matches(headers.authorization):
            refusal = self.unauthorized
        else:
            refusal = self.role.refusal(scope["path"])
        if refusal is not None:
            return await refusal.send(send, headers.request_id or fresh_id().encode())
        if headers.authorization:
            scope = {**scope, "headers": headers.forwarded}
        if scope["method"] != "POST":
            return await self.app(scope, receive, send)
        if route.upload:
            return await self.uploads(scope, receive, send, headers)
        if not route.model:
            return await self.app(scope, receive, send)
        if not is_json(headers.content_type):
            refusal = unsupported_media_type(headers.content_type)
        elif not await self.admitted():
            refusal = self.overloaded
        if refusal is not None:
            return await refusal.send(send, headers.request_id or fresh_id().encode())
        try:
            await self.app(scope, receive, send)
        finally:
            self.carry_out(self.queue.finish(self.clock()))

    def unknown_path(self, path: str) -> Refusal:
        """400 for control characters, else 404 (V2 clients are told the model)."""
        if CONTROL_CHARACTER.search(path):
            return self.bad_path
        return self.no_such_model if path.startswith("/v2/models/") else self.not_found

    def key_matches(self, authorization: bytes) -> bool:
        """Whether the request carries the API key (always, when there is none)."""
        expected = self.expected_auth
        return expected is None or hmac.compare_digest(authorization, expected)

    async def admitted(self) -> bool:
        """Wait for admission: True to go in, False for a 503."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        ticket = Ticket(self.clock(), future)
        self.carry_out(self.queue.arrive(ticket, ticket.arrived))
        if future.done():  # admitted or refused at once
            return future.result()
        try:
            return await future
        except asyncio.CancelledError:
            self.forget(ticket)
            raise

    def forget(self, ticket: Ticket) -> None:
        """A waiting request's task was cancelled (shutdown): drop or release it."""
        if ticket in self.queue.waiting:
            self.queue.waiting.remove(ticket)
        elif ticket.future is not None and ticket.future.done():
            if not ticket.future.cancelled() and ticket.future.result():
                self.carry_out(self.queue.finish(self.clock()))

    def carry_out(self, decisions: Decisions) -> None:
        """Wake the admitted and the refused; refresh the gauges now and then."""
        for ticket in decisions.admit:
            if ticket.future is not None and not ticket.future.done():
                ticket.future.set_result(True)
        for ticket, reason in decisions.refuse:
            self.reasons[reason].inc()
            if ticket.future is not None and not ticket.future.done():
                ticket.future.set_result(False)
        self.arm_timer()
        now = self.clock()
        # Also when the worker falls idle: the gauges must read 0 then, not the last
        # busy sample (autoscaling on them, deploy/keda-scaledobject.yaml).
        if now - self.gauges_at >= GAUGE_EVERY_S or not self.queue.in_flight:
            self.gauges_at = now
            QUEUED.set(len(self.queue.waiting))
            IN_FLIGHT.set(self.queue.in_flight)
            QUEUE_DELAY.set(self.queue.oldest_wait(now))
            EXPECTED_WAIT.set(self.queue.expected_wait(now))
            SERVICE_RATE.set(self.queue.service.per_s or 0.0)

    def arm_timer(self) -> None:
        """Make sure held requests get their refusal even when nothing else happens."""
        if self.timer is not None:
            return
        now = self.clock()
        deadline = self.queue.next_deadline(now)
        if deadline is None:
            return
        delay = max(TIMER_MIN_S, deadline - now)
        self.timer = asyncio.get_running_loop().call_later(delay, self.on_timer)

    def on_timer(self) -> None:
        """A held request's refusal is due."""
        self.timer = None
        self.carry_out(self.queue.tick(self.clock()))


def install(service: Any, settings: Settings, routes: RouteTable) -> None:
    """Make ``service``'s ASGI app (each worker's) start with :class:`Admission`.

    Outermost, outside BentoML's own middlewares: a refusal decided inside them
    would already have paid for metrics, tracing and the timeout.
    """
    wrap_asgi_app(service, lambda app: Admission(app, settings, routes=routes))

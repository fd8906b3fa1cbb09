"""Overload control: admit, hold or refuse a request before BentoML reads it.

:class:`Admission` is the outermost layer of each worker, in front of BentoML's own
middlewares. It decides from the head alone, with answers built once at start:
the route (404), the key (401), the role (421), the ``Content-Type`` (415), and
for a model route admission by the queue
(:class:`sentiment.http.overload.AdmissionQueue`, pure logic with the clock passed
in): admitted while fewer than the limit are inside the service, else queued,
first come first served within ``max_queue_wait_ms``; one past the budget is
held and refused 503 with ``Retry-After`` after ``refuse_after_ms`` (refused at
once, a client that retries at once costs a refusal per round trip); tenants
wait in their own lanes, served by weight, 429 over their share or rate;
``X-Request-Timeout-Ms`` deadlines get their 504 when they cannot be met. An
admitted request carries a :class:`sentiment.leases.Lease` (tenant, deadline,
whether its client is still there) to the edge (:mod:`sentiment.http.edge`) and
into BentoML's batching queue. docs/overload.md has the design and its numbers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from sentiment import leases
from sentiment.config import Settings
from sentiment.http.headers import RequestHeaders, timeout_seconds
from sentiment.http.lanes import Share, Ticket
from sentiment.http.overload import (
    REFUSAL_REASONS,
    AdmissionQueue,
    Decisions,
)
from sentiment.http.refusals import (
    EdgeRefusals,
    Refusal,
    bad_timeout,
    is_json,
    unsupported_media_type,
)
from sentiment.http.roles import RolePolicy
from sentiment.http.routes import CONTROL_CHARACTER, Route, RouteTable
from sentiment.http.shares import PERIOD_S, WorkerShares
from sentiment.http.tenants import TenantTable, load_tenants
from sentiment.http.uploads import Uploads
from sentiment.patches import client_gone
from sentiment.telemetry.metrics import (
    EXPECTED_WAIT,
    IN_FLIGHT,
    LIMIT,
    QUEUE_DELAY,
    QUEUED,
    SERVICE_RATE,
    TenantSeries,
)

# Answers an admitted model request: (scope, receive, send, headers, handler key)
ModelServe = Callable[[Scope, Receive, Send, RequestHeaders, str], Awaitable[None]]
GAUGE_EVERY_S = 0.5
TIMER_MIN_S = 0.005


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
        routes: the service's routes.
        edge: answers an admitted model request (``edge.ModelEdge``).
        clock: seconds, monotonic (tests pass a fake).
        tenants: who may call, and their shares (default: from ``settings``).
    """

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings,
        routes: RouteTable,
        edge: ModelServe,
        clock: Callable[[], float] = time.monotonic,
        tenants: TenantTable | None = None,
    ) -> None:
        self.app = app
        self.edge = edge
        self.clock = clock
        self.routes = routes
        self.role = RolePolicy(settings.role, settings.jobs_url, settings.online_url)
        self.uploads = Uploads(app, settings)
        self.tenants = tenants or load_tenants(settings)
        self.queue = AdmissionQueue(
            settings.max_in_flight,
            settings.max_queue_wait_ms / 1000,
            settings.refuse_after_ms / 1000,
            settings.max_queue,
            [
                Share(t.weight, t.max_in_flight, t.rate_per_s)
                for t in self.tenants.tenants
            ],
            settings.in_flight_target_ms / 1000,
            settings.min_in_flight,
        )
        self.max_timeout_s = float(settings.timeout_s)
        self.refused = EdgeRefusals.of(settings)
        self.names = self.tenants.names()
        self.weights = [t.weight for t in self.tenants.tenants]
        self.series = [TenantSeries(name, REFUSAL_REASONS) for name in self.names]
        self.gauges_at = 0.0
        self.shares = WorkerShares.of_server(len(self.names))
        self.shares_at = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0  # when it fires (the clock's time)
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
            return await refusal.answer(receive, send, headers)
        tenant = self.tenants.find(headers.authorization)
        if headers.duplicated:
            refusal = self.refused.duplicate_header
        elif route.needs_key and tenant is None:
            refusal = self.refused.unauthorized
        else:
            refusal = self.role.refusal(route)
        if refusal is not None:
            return await refusal.answer(receive, send, headers)
        if headers.authorization:
            scope = {**scope, "headers": headers.forwarded}
        if scope["method"] != "POST":
            return await self.app(scope, receive, send)
        if route.starts_job:
            return await self.uploads(scope, receive, send, headers, route.upload)
        if not route.model:
            return await self.app(scope, receive, send)
        if not is_json(headers.content_type):
            refusal = unsupported_media_type(headers.content_type)
            return await refusal.answer(receive, send, headers)
        return await self.admit(scope, receive, send, headers, tenant or 0, route)

    async def admit(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: RequestHeaders,
        tenant: int,
        route: Route,
    ) -> None:
        """Overload control for a model request, then the service with its lease."""
        deadline: float | None = None
        now = self.clock()
        if headers.timeout_ms:
            timeout_s = timeout_seconds(headers.timeout_ms)
            if timeout_s is None:
                refusal = bad_timeout(headers.timeout_ms)
                return await refusal.answer(receive, send, headers)
            deadline = now + min(timeout_s, self.max_timeout_s)
        reason = await self.serve(
            tenant,
            deadline,
            client_gone(receive),
            now,
            lambda: self.edge(scope, receive, send, headers, route.handler),
        )
        if reason is not None:
            refusal = self.refused.by_reason[reason]
            return await refusal.answer(receive, send, headers)

    async def serve(
        self,
        tenant: int,
        deadline: float | None,
        gone: Callable[[], bool] | None,
        arrived: float,
        call: Callable[[], Awaitable[object]],
    ) -> str | None:
        """Wait for admission, then ``call()`` under the request's lease.

        The one way into the model for every transport (HTTP here, gRPC in
        :mod:`sentiment.rpc`). Returns None once served, else the refusal's reason.
        """
        reason = await self.admitted(tenant, deadline, gone)
        if reason is not None:
            return reason
        latest = arrived + self.max_timeout_s  # the clamp, also for a V2 timeout
        lease = leases.Lease(
            self.names[tenant], deadline, gone, latest, self.weights[tenant]
        )
        token = leases.CURRENT.set(lease)
        try:
            await call()
        finally:
            leases.CURRENT.reset(token)
            done = self.clock()
            self.series[tenant].latency.observe(done - arrived)
            self.carry_out(self.queue.finish(done, tenant))
        return None

    def unknown_path(self, path: str) -> Refusal:
        """400 for control characters, else 404 (V2 clients are told the model)."""
        if CONTROL_CHARACTER.search(path):
            return self.refused.bad_path
        if path.startswith("/v2/models/"):
            return self.refused.no_such_model
        return self.refused.not_found

    async def admitted(
        self,
        tenant: int,
        deadline: float | None,
        gone: Callable[[], bool] | None,
    ) -> str | None:
        """Wait for admission: None to go in, else the refusal's reason."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()
        ticket = Ticket(self.clock(), future, tenant, deadline, gone)
        self.carry_out(self.queue.arrive(ticket, ticket.arrived))
        try:
            return future.result() if future.done() else await future
        except asyncio.CancelledError:
            self.forget(ticket)
            raise

    def forget(self, ticket: Ticket) -> None:
        """A waiting request's task was cancelled (shutdown): drop or release it."""
        if self.queue.withdraw(ticket):
            return
        future = ticket.future
        if future is not None and future.done() and not future.cancelled():
            if future.result() is None:  # admitted: give its slot back
                self.carry_out(self.queue.finish(self.clock(), ticket.tenant))

    def carry_out(self, decisions: Decisions) -> None:
        """Wake the admitted and the refused; refresh the gauges now and then."""
        now = self.clock()
        for ticket in decisions.admit:
            series = self.series[ticket.tenant]
            series.admitted.inc()
            series.wait.observe(now - ticket.arrived)
            if ticket.future is not None and not ticket.future.done():
                ticket.future.set_result(None)
        for ticket, reason in decisions.refuse:
            self.series[ticket.tenant].refused[reason].inc()
            if ticket.future is not None and not ticket.future.done():
                ticket.future.set_result(reason)
        self.arm_timer()
        if self.shares is not None and now - self.shares_at >= PERIOD_S:
            self.shares_at = now
            self.share_across_workers(self.shares)
        # Also when the worker falls idle: the gauges must read 0 then, not the last
        # busy sample (autoscaling on them, deploy/keda-scaledobject.yaml).
        if now - self.gauges_at >= GAUGE_EVERY_S or not self.queue.in_flight:
            self.gauges_at = now
            QUEUED.set(self.queue.queued)
            IN_FLIGHT.set(self.queue.in_flight)
            QUEUE_DELAY.set(self.queue.oldest_wait(now))
            EXPECTED_WAIT.set(self.queue.expected_wait(now))
            SERVICE_RATE.set(self.queue.service.per_s or 0.0)
            LIMIT.set(self.queue.limit)

    def share_across_workers(self, shares: WorkerShares) -> None:
        """Weigh the lanes so the server's split follows the weights (:mod:`shares`).

        A tenant counts as waiting while its lane is in the round: requests wait
        and it is below its own cap.
        """
        lanes = self.queue.lanes
        admitted = [lane.admitted for lane in lanes]
        waiting = [lane.in_round for lane in lanes]
        self.queue.reweigh(shares.exchange(self.weights, admitted, waiting))

    def arm_timer(self) -> None:
        """Make sure held requests get their refusal even when nothing else happens.

        Armed for the soonest due; re-armed when one due sooner is held.
        """
        now = self.clock()
        due = self.queue.next_deadline(now)
        if due is None or (self.timer is not None and self.timer_at <= due):
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = due
        delay = max(TIMER_MIN_S, due - now)
        self.timer = asyncio.get_running_loop().call_later(delay, self.on_timer)

    def on_timer(self) -> None:
        """A held request's refusal is due."""
        self.timer = None
        self.carry_out(self.queue.tick(self.clock()))

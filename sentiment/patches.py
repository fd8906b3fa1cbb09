"""Every reach into BentoML's internals, pinned to the version it was written for.

BentoML 1.4 has no public API for these; each is here, in one module, and
``tests/unit/test_patches.py`` fails when BentoML changes under one of them:

- the batching dispatcher (:class:`IdleDispatcher`, :func:`install`): below;
- whether a request's client has disconnected, read from uvicorn's request
  cycle behind ``receive`` (:func:`client_gone`);
- the worker's ASGI app, wrapped on the way out of ``Service.to_asgi``
  (:func:`wrap_asgi_app`: admission runs outside BentoML's own middlewares);
- the task store's retention, ``Sqlite3Store.RESULT_RETENTION``
  (:func:`keep_tasks_for`) and its file (:func:`task_store`);
- the model store's directory (:func:`model_store_path`);
- the task ID BentoML puts on a task request's state (:func:`task_id_of`);
- the Swagger UI assets BentoML serves (:func:`swagger_assets`);
- an API's output descriptor that sends what the API built, as is, with orjson
  (:func:`json_output`);
- BentoML's per-request API lookups made once per worker: the bound API methods
  and the batch container of a list (:func:`bind_apis_once`);
- a lone request's batch run in its own task instead of BentoML's worker thread
  (:func:`run_lone_batches_inline`, :meth:`IdleDispatcher.run_alone`);
- the sync client's upload files, kept by its file manager (:func:`opened_files`,
  for :mod:`sentiment.client`).

Adaptive batching that never makes a lone request wait: dispatch when idle.

BentoML 1.4's ``CorkDispatcher`` holds a request while
``n * (wn + dt + a) <= optimizer.wait * 0.95``, where ``optimizer.wait`` is the
average queueing wait of the last 50 batches. After a burst that average is high,
and a lone client's requests then wait about as long as the burst's did, which is
logged as the next wait: the learned delay sustains itself (measured: a lone
100-review request took 141 ms p50 after a burst, against 44 ms with FastAPI).

:class:`IdleDispatcher` keeps BentoML's queue, batch assembly, shedding (503 when
a request cannot meet ``max_latency_ms``) and metrics, and changes one decision:
when the model is idle, whatever is queued goes now. Under concurrency, requests
that arrive while a batch runs form the next batch, so batching still pays; alone,
a request goes straight to the model.

It also leaves out of a batch the requests whose :class:`sentiment.leases.Lease`
says their deadline passed (answered 504 ``deadline_exceeded``) or their client
disconnected (cancelled: nobody reads the answer) while they sat in the queue,
and counts them (``sentiment_batch_dropped_total``) and the reviews it sends per
tenant (``sentiment_tenant_reviews_total``).

This replaces a BentoML internal, so it is pinned: :func:`install` patches only
the version it was written for (:data:`BENTOML_VERSION`) and otherwise logs a
warning and leaves BentoML's dispatcher in place; ``tests/unit/test_patches.py``
fails when the version or the internals it relies on change. Upstream, a
dispatcher option to skip the cork when idle would make this module unnecessary.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import bentoml
import orjson
from bentoml._internal.marshal.dispatcher import CorkDispatcher, Job

from sentiment import leases
from sentiment.errors import DeadlineExceeded
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import BATCH_DROPS, TENANT_REVIEWS

BENTOML_VERSION = "1.4.40"
UVICORN_VERSION = "0.54.0"
WARM_UP_BATCHES = 20  # batches seen before trusting the latency model
SHED_CHECK_S = 0.01  # while a batch runs, how often the queue is checked for sheds
logger = logging.getLogger(SERVICE_LOGGER)
# Set while a lone request's batch runs in its own task: BentoML's thread hop skipped.
INLINE: ContextVar[bool] = ContextVar("sentiment_inline_batch", default=False)


class IdleDispatcher(CorkDispatcher[Any, Any]):
    """``CorkDispatcher`` that dispatches the queue as soon as the model is idle."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each queued job's lease, by its future (attrs' Job has slots, no room).
        self.leases: dict[asyncio.Future[Any], leases.Lease] = {}

    async def inbound_call(self, data: Any) -> Any:
        """BentoML's, plus the request's lease kept beside its job."""
        lease = leases.current()
        if lease is None:
            return await super().inbound_call(data)
        future: asyncio.Future[Any] = self._loop.create_future()
        self.leases[future] = lease
        self._queue.append(Job(time.time(), data, future))
        try:
            if not self.goes_now(lease):
                async with self._wake_event:
                    self._wake_event.notify_all()
            elif len(self.leases) == 1 and one_connection(lease):
                await self.run_alone()  # a lone client's: no thread hop
            else:
                self.dispatch()  # to an idle model at once, not via the controller
            return await future
        finally:
            del self.leases[future]

    def goes_now(self, lease: leases.Lease) -> bool:
        """Whether a request that just arrived is alone, the model idle, it wanted.

        Then its own call dispatches it: waking the controller first cost a
        condition's notify, a task switch and the controller's checks, about
        0.1 ms of a lone 100-review request. A request still within its first
        instant cannot be shed (it has not waited); an abandoned one, or one its
        batch would answer late, goes the controller's way, which leaves it out.
        """
        return (
            len(self._queue) == 1
            and not self._sema.is_locked()
            and not lease.abandoned()
            and not lease.late(time.monotonic() + self.expected_batch_s(1))
        )

    async def controller(self) -> None:
        """Wait for requests; shed those that cannot make it; dispatch when idle."""
        while True:
            try:
                async with self._wake_event:
                    await self._wake_event.wait_for(self._queue.__len__)
                if self.shed_one_if_late():
                    continue
                if self._sema.is_locked():
                    await self.until_idle()
                    continue
                if self.leave_out_the_abandoned():
                    continue
                self.dispatch()
            except Exception:  # the loop must survive anything, as BentoML's does
                logger.exception("error in the batching dispatcher")

    def leave_out_the_abandoned(self) -> bool:
        """Take out of the queue the jobs past their deadline or whose client left.

        Checked as the batch is about to form, so a request the model has not
        reached yet costs no model time once nobody waits for it. "Past its
        deadline" counts the batch's own expected time: one that would be
        answered late is left out now, not scored for nobody (measured at 2x
        capacity with 200 ms deadlines: the slowest answer took 346 ms without).

        Returns:
            Whether the queue is now empty (nothing to dispatch).
        """
        if not self.leases:
            return False
        now = time.monotonic() + self.expected_batch_s(len(self._queue))
        kept: deque[Job[Any, Any]] = deque()
        for job in self._queue:
            lease = self.leases.get(job.future)
            if lease is None or job.future.done():
                kept.append(job)
            elif lease.abandoned():
                BATCH_DROPS.labels(reason="disconnect", tenant=lease.tenant).inc()
                job.future.cancel()
            elif lease.late(now):
                BATCH_DROPS.labels(reason="deadline", tenant=lease.tenant).inc()
                job.future.set_result(
                    DeadlineExceeded("the request's X-Request-Timeout-Ms passed")
                )
            else:
                kept.append(job)
        if len(kept) != len(self._queue):
            self._queue.clear()
            self._queue.extend(kept)
        return not self._queue

    def expected_batch_s(self, queued: int) -> float:
        """Seconds a batch of the queued jobs should take (0 until warmed up).

        BentoML's linear fit of batch durations, trusted after
        :data:`WARM_UP_BATCHES` batches (as in :meth:`shed_one_if_late`).
        """
        if len(self.optimizer.o_stat) < WARM_UP_BATCHES:
            return 0.0
        size = min(queued, self.max_batch_size)
        return float(self.optimizer.o_a * size + self.optimizer.o_b)

    def shed_one_if_late(self) -> bool:
        """Cancel (503) the oldest request if it cannot meet ``max_latency``.

        The time a batch will take comes from BentoML's linear fit of batch
        durations, but only once it has seen :data:`WARM_UP_BATCHES` batches:
        before that its guesses (a fixed 1/15 of the budget per request, or a
        fit to a slow first call) shed requests that would have been fast.
        Until then only a request that has already waited the budget is shed.
        """
        queued = len(self._queue)
        waited = time.time() - self._queue[0].enqueue_time
        expected = 0.0
        if len(self.optimizer.o_stat) >= WARM_UP_BATCHES:
            expected = self.optimizer.o_a * queued + self.optimizer.o_b
        busy = self._sema.is_locked()
        if (queued > 1 and waited + expected >= self.max_latency) or (
            busy and queued == 1 and waited >= self.max_latency
        ):
            self._queue.popleft().future.cancel()
            return True
        return False

    @functools.cached_property
    def idle(self) -> asyncio.Event:
        """Set when no batch runs: cleared by :meth:`dispatch`, set when it ends."""
        return asyncio.Event()

    async def until_idle(self) -> None:
        """Wait for the running batch to end, or :data:`SHED_CHECK_S` to pass.

        BentoML polls every millisecond (``TICKET_INTERVAL``); under 100-review
        load each poll took the GIL from the model's thread: waking on the
        batch's end instead measured 26.1k against 23.4k reviews/s at 64
        connections (2 alternating rounds). The timeout keeps shedding going.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.idle.wait(), SHED_CHECK_S)

    async def outbound_call(self, inputs_info: Any, training: bool = False) -> None:
        """BentoML's batch call, then :attr:`idle` set, whatever happened."""
        try:
            await super().outbound_call(inputs_info, training)
        finally:
            self.idle.set()

    def dispatch(self) -> None:
        """Send everything queued (up to ``max_batch_size``) to the model now."""
        self.idle.clear()
        self._sema.acquire()
        jobs = self.take_batch()
        if self.leases:
            self.count_reviews(jobs)
        self._loop.create_task(self.outbound_call(jobs))

    def take_batch(self) -> tuple[Job[Any, Any], ...]:
        """The next batch: the whole queue when it fits, else by tenant (DRR).

        When more is queued than one batch takes (``max_batch_size`` items),
        first come, first served would make a tenant's one review wait behind
        every batch of another's backlog (bulk bodies: 64 requests of 100
        reviews are 25 batches). Then the batch is filled by deficit round
        robin over the tenants' jobs, in arrival order within each, each tenant
        earning its lease's weight in items per round: admission already split
        the *requests* by weight, and this only decides which of them are
        scored first, so what each tenant is served in the long run is what it
        was admitted (weights counted once).
        """
        queue = self._queue
        if not self.leases or len(queue) < 2 or not self.several_tenants():
            return tuple(self._get_inputs())
        # BentoML's batch size of a 100-review list takes about 8 us: only now,
        # with several tenants queued (measured: sizing every queue cost the
        # single-tenant bulk path 2-5%).
        sizes = [self.get_batch_size(job.data) for job in queue]
        if sum(sizes) <= self.max_batch_size:
            return tuple(self._get_inputs())
        lanes: dict[str, deque[tuple[Job[Any, Any], int]]] = {}
        weights: dict[str, float] = {}
        for job, size in zip(queue, sizes, strict=True):
            lease = self.leases.get(job.future)
            name = "" if lease is None else lease.tenant
            lanes.setdefault(name, deque()).append((job, size))
            weights[name] = 1.0 if lease is None else lease.weight
        chosen = fair_batch(lanes, weights, self.max_batch_size)
        taken = {id(job) for job in chosen}
        rest = [job for job in queue if id(job) not in taken]
        queue.clear()
        queue.extend(chosen)
        batch = tuple(self._get_inputs())  # splits a job that does not fit, as before
        queue.extend(rest)
        return batch

    def several_tenants(self) -> bool:
        """Whether the queued jobs belong to more than one tenant."""
        first: str | None = None
        for job in self._queue:
            lease = self.leases.get(job.future)
            name = "" if lease is None else lease.tenant
            if first is None:
                first = name
            elif name != first:
                return True
        return False

    async def run_alone(self) -> None:
        """Run the one queued request's batch in this task, on the event loop.

        Only for a request that :meth:`goes_now`, is the only one in the
        dispatcher and comes on the worker's only open connection (a lone
        client; :func:`one_connection`):
        the loop then has nothing else to do while the model runs, and BentoML's
        hop to its worker thread and back (``anyio.to_thread``, two wake-ups) is
        pure latency. Under load the thread path stays: while a batch runs there,
        the loop reads the next requests, which form the next batch (run here,
        every request of single reviews at 64 connections was its own batch:
        1,375 against 2,950 reviews/s, also when gated on the requests inside
        the edge, which admission lets in a few at a time). Needs
        :func:`run_lone_batches_inline` installed, else it is a plain dispatch
        awaited here.
        """
        self.idle.clear()
        self._sema.acquire()
        jobs = tuple(self._get_inputs())
        self.count_reviews(jobs)
        token = INLINE.set(True)
        try:
            await self.outbound_call(jobs)
        finally:
            INLINE.reset(token)

    def count_reviews(self, jobs: tuple[Job[Any, Any], ...]) -> None:
        """Reviews sent to the model, by tenant (one increment per tenant)."""
        reviews: Counter[str] = Counter()
        for job in jobs:
            lease = self.leases.get(job.future)
            if lease is not None:
                reviews[lease.tenant] += self.get_batch_size(job.data)
        for tenant, count in reviews.items():
            TENANT_REVIEWS.labels(tenant=tenant).inc(count)


def fair_batch(
    lanes: dict[str, deque[tuple[Job[Any, Any], int]]],
    weights: dict[str, float],
    capacity: int,
) -> list[Job[Any, Any]]:
    """Jobs for one batch of ``capacity`` items, by deficit round robin.

    Each round, every tenant with jobs left earns ``weight / lightest`` batch
    items' worth of credit (the lightest one item) and takes its jobs in order
    while its credit covers them. The last job taken may pass ``capacity``:
    BentoML's batch assembly splits it. O(jobs) per batch.
    """
    lightest = min(weights[name] for name in lanes)
    credit = dict.fromkeys(lanes, 0.0)
    chosen: list[Job[Any, Any]] = []
    room = capacity
    while room > 0 and lanes:
        for name in list(lanes):
            lane = lanes[name]
            credit[name] += weights[name] / lightest
            # A job larger than the room left goes once the credit covers the
            # room (it is split): credit starts afresh each batch, so waiting
            # for its whole size could keep it out for as long as others queue.
            while lane and room > 0 and min(lane[0][1], room) <= credit[name]:
                job, size = lane.popleft()
                credit[name] -= size
                room -= size
                chosen.append(job)
            if not lane:
                del lanes[name]
            if room <= 0:
                break
    return chosen


def install(policy: str) -> bool:
    """Make BentoML build :class:`IdleDispatcher` for batchable APIs.

    Args:
        policy: ``idle`` (this module) or ``cork`` (BentoML's own, unchanged).

    Returns:
        Whether the idle dispatcher is now in use.
    """
    from _bentoml_impl.server import app

    if policy != "idle":
        app.CorkDispatcher = CorkDispatcher  # type: ignore[attr-defined]
        return False
    if bentoml.__version__ != BENTOML_VERSION:
        logger.warning(
            "SENTIMENT_DISPATCH=idle is written for BentoML %s, this is %s: "
            "keeping BentoML's own dispatcher",
            BENTOML_VERSION,
            bentoml.__version__,
        )
        return False
    app.CorkDispatcher = IdleDispatcher  # type: ignore[attr-defined]
    run_lone_batches_inline()
    return True


def run_lone_batches_inline() -> None:
    """Make BentoML's ``_to_thread`` call the function in place when INLINE is set.

    A sync batchable API runs in ``ServiceAppFactory.batch_infer``'s callback as
    ``await self._to_thread(func, batch)``; only :meth:`IdleDispatcher.run_alone`
    sets :data:`INLINE`, so every other call (other APIs, batches formed under
    load) still goes to BentoML's thread. Idempotent.
    """
    from _bentoml_impl.server.app import ServiceAppFactory

    to_thread = ServiceAppFactory._to_thread
    if getattr(to_thread, "inline_by_sentiment", False):
        return

    async def _to_thread(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        if INLINE.get():
            return func(*args, **kwargs)
        return await to_thread(self, func, *args, **kwargs)

    _to_thread.inline_by_sentiment = True  # type: ignore[attr-defined]
    ServiceAppFactory._to_thread = _to_thread  # type: ignore[method-assign]


def client_gone(receive: Any) -> Callable[[], bool] | None:
    """Whether the client of the request ``receive`` belongs to has disconnected.

    uvicorn sets ``disconnected`` on the request's cycle when the connection is
    lost, whether or not anyone awaits ``receive``; reading the flag costs
    nothing, where a task awaiting ``http.disconnect`` per request would cost
    a task switch each. None when ``receive`` is not uvicorn's (tests, others).
    """
    cycle = getattr(receive, "__self__", None)
    if cycle is None or not isinstance(getattr(cycle, "disconnected", None), bool):
        return None
    return functools.partial(getattr, cycle, "disconnected")


# uvicorn's set of this worker's open connections, once a request has shown it.
_CONNECTIONS: list[set[Any]] = []


def watch_connections(gone: Callable[[], bool] | None) -> None:
    """Keep the worker's uvicorn connection set, found behind a lease's ``gone``.

    :func:`client_gone` reads the flag on uvicorn's request cycle; the cycle
    holds its protocol's ``on_response_complete``, and the protocol the server's
    set of open connections (what uvicorn's own ``limit_concurrency`` counts).
    Found from the edge's ``receive``: BentoML's middlewares wrap it further in.
    Nothing when ``gone`` is not :func:`client_gone`'s (tests, other servers).
    """
    cycle = gone.args[0] if isinstance(gone, functools.partial) and gone.args else None
    protocol = getattr(getattr(cycle, "on_response", None), "__self__", None)
    connections = getattr(protocol, "connections", None)
    if isinstance(connections, set):
        _CONNECTIONS.append(connections)


def one_connection(lease: leases.Lease) -> bool:
    """Whether the worker has one open connection (False: not known)."""
    if not _CONNECTIONS:
        watch_connections(lease.gone)
    return bool(_CONNECTIONS) and len(_CONNECTIONS[0]) <= 1


def wrap_asgi_app(service: Any, wrap: Callable[[Any], Any]) -> None:
    """Make ``service``'s ASGI app (each worker's) ``wrap(app)``, outermost.

    BentoML adds a service's middlewares inside its own (metrics, tracing,
    timeout); a layer that must run before them wraps the app the worker asks
    the service for with ``to_asgi``. Idempotent: a second call keeps the first.
    """
    service_class = type(service)
    build = service_class.to_asgi
    if getattr(build, "wrapped_by_sentiment", False):
        return

    def to_asgi(self: Any, *args: Any, **kwargs: Any) -> Any:
        app = build(self, *args, **kwargs)
        return wrap(app) if self is service else app

    to_asgi.wrapped_by_sentiment = True  # type: ignore[attr-defined]
    service_class.to_asgi = to_asgi


def keep_tasks_for(retention_s: float) -> None:
    """BentoML deletes finished tasks older than this when one finishes (24 h)."""
    from _bentoml_impl.tasks.result import Sqlite3Store

    Sqlite3Store.RESULT_RETENTION = int(retention_s)


def task_store() -> Path:
    """BentoML's task database (it holds each job's upload and result)."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    return Path(BentoMLContainer.result_store_file.get())


def model_store_path() -> Path:
    """The model store in use (a bento's own when serving a bento)."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    return Path(BentoMLContainer.model_store.get()._path)


def task_id_of(ctx: bentoml.Context) -> str | None:
    """The ID BentoML gave the task a ``@bentoml.task`` call runs (None: direct)."""
    return getattr(ctx.request.state, "task_id", None)


def swagger_assets() -> Path:
    """The directory of the Swagger UI files BentoML serves under /static_content."""
    from bentoml._internal import server

    return Path(server.__file__).parent / "static_content"


def opened_files(client: bentoml.SyncHTTPClient) -> list[Any]:
    """The files a sync client opened for an upload (its file manager keeps them)."""
    files: list[Any] = client._file_manager._opened_files
    return files


def bind_apis_once(instance: Any) -> None:
    """Bind ``instance``'s BentoML APIs once, and find a list's batch container once.

    BentoML reads ``getattr(instance, name).local`` twice per request, and its
    ``APIMethod.__get__`` builds a new caller each time (``inspect.signature``,
    ``functools.wraps``); it also looks up the batch container of a list four
    times per request by trying every registered container class in turn. Both
    answers never change in a worker. ``APIMethod`` is a non-data descriptor, so
    a bound caller in the instance's ``__dict__`` is what ``getattr`` finds; and
    a list's entry in the batch-type map is found at the first lookup.
    Measured on a lone client with 100 reviews: see bench/results/bulk.md.
    """
    from _bentoml_sdk.method import APIMethod
    from bentoml._internal.runner.container import (
        DataContainerRegistry,
        DefaultContainer,
    )
    from bentoml._internal.types import LazyType

    for name, member in vars(type(instance)).items():
        if isinstance(member, APIMethod):
            instance.__dict__[name] = member.__get__(instance, type(instance))
    batch_types = DataContainerRegistry.CONTAINER_BATCH_TYPE_MAP
    batch_types.setdefault(LazyType.from_type(list), DefaultContainer)


def json_output(annotation: Any) -> Any:
    """BentoML's output descriptor for ``annotation``, sending a list with orjson.

    BentoML's own (``IORootModel.to_http_response``) validates the list an API
    returns against the annotation, dumps it to Python and then encodes it to
    JSON: for /classify's list of prediction dicts, which the service builds
    itself, that is 3.5-4.4 us per review, the largest cost outside the model
    in the profile (bench/results/profile-before.md). This one keeps BentoML's
    schema (same annotation, same name) and sends a list encoded in one orjson
    call; anything else goes BentoML's way.
    """
    from _bentoml_sdk.io_models import ensure_io_descriptor
    from starlette.responses import Response

    base = ensure_io_descriptor(annotation)

    async def to_http_response(cls: Any, obj: Any, serde: Any) -> Any:
        if isinstance(obj, list):
            body = orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY)
            return Response(body, media_type="application/json")
        return await base.to_http_response.__func__(cls, obj, serde)  # type: ignore[attr-defined]

    output: Any = type(
        base.__name__, (base,), {"to_http_response": classmethod(to_http_response)}
    )
    output.media_type = "application/json"
    return output

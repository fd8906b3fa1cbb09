"""Adaptive batching that never makes a lone request wait: dispatch when idle.

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
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import bentoml
from bentoml._internal.marshal.dispatcher import CorkDispatcher, Job

from sentiment import leases
from sentiment.errors import DeadlineExceeded
from sentiment.patches.connections import one_connection
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import BATCH_DROPS, TENANT_REVIEWS

BENTOML_VERSION = "1.4.40"
WARM_UP_BATCHES = 20  # batches seen before trusting the latency model
SHED_CHECK_S = 0.01  # while a batch runs, how often the queue is checked for sheds
logger = logging.getLogger(SERVICE_LOGGER)
# Set while a lone client's batch runs on the event loop: BentoML's thread hop
# skipped.
INLINE: ContextVar[bool] = ContextVar("sentiment_inline_batch", default=False)


@contextlib.contextmanager
def on_the_loop() -> Iterator[None]:
    """Within it, BentoML's thread hop runs the API in place (:data:`INLINE`)."""
    token = INLINE.set(True)
    try:
        yield
    finally:
        INLINE.reset(token)


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
                job.future.set_result(DeadlineExceeded(DeadlineExceeded.passed))
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
        """Send everything queued (up to ``max_batch_size``) to BentoML's thread."""
        self._loop.create_task(self.outbound_call(self.start_batch()))

    def start_batch(self) -> tuple[Job[Any, Any], ...]:
        """Mark the model busy and take the next batch off the queue, counted."""
        self.mark_busy()
        return self.take_counted()

    def mark_busy(self) -> None:
        """The model is taken: no other batch starts until this one ends."""
        self.idle.clear()
        self._sema.acquire()

    def take_counted(self) -> tuple[Job[Any, Any], ...]:
        """The next batch off the queue, its reviews counted by tenant."""
        jobs = self.take_batch()
        if self.leases:
            self.count_reviews(jobs)
        return jobs

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
            name = self.tenant_of(job)
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
        """Whether the queued jobs with a lease belong to more than one tenant.

        A job without one is the rest of a request BentoML split across two
        batches (its child job has a new future): counted as a tenant of its
        own, it made every bulk batch of one tenant go the fair way (about 0.5
        ms of batch sizes per batch on the event loop).
        """
        first: str | None = None
        for job in self._queue:
            lease = self.leases.get(job.future)
            if lease is None:
                continue
            if first is None:
                first = lease.tenant
            elif lease.tenant != first:
                return True
        return False

    def tenant_of(self, job: Job[Any, Any]) -> str:
        """The tenant of a queued job ("" for one without a lease)."""
        lease = self.leases.get(job.future)
        return "" if lease is None else lease.tenant

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
        jobs = self.start_batch()
        with on_the_loop():
            await self.outbound_call(jobs)

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
    ``await self._to_thread(func, batch)``; only :class:`IdleDispatcher` sets
    :data:`INLINE` (a lone client's batch), so every other call (other APIs,
    batches under load) still goes to BentoML's thread. Idempotent.
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

"""BentoML's batching queue run by our policy: dispatch when the model is idle.

BentoML 1.4's ``CorkDispatcher`` holds a request while
``n * (wn + dt + a) <= optimizer.wait * 0.95``, where ``optimizer.wait`` is the
average queueing wait of the last 50 batches. After a burst that average is high,
and a lone client's requests then wait about as long as the burst's did, which is
logged as the next wait: the learned delay sustains itself (measured: a lone
100-review request took 141 ms p50 after a burst, against 44 ms with FastAPI).

:class:`IdleDispatcher` keeps BentoML's queue, batch assembly, shedding (503 when
a request cannot meet ``max_latency_ms``) and metrics, and takes its decisions
from :mod:`sentiment.batching.policy`: when the model is idle, whatever is queued
goes now. Under concurrency, requests that arrive while a batch runs form the
next batch, so batching still pays; alone, a request goes straight to the model.
Here is only the tie to BentoML's queue: each job's
:class:`sentiment.leases.Lease`, the futures answered, the series counted, and a
lone client's batch run on the event loop.

This replaces a BentoML internal, so it is pinned: its private imports come
from :mod:`sentiment.patches.internals`, which refuses any BentoML but the
tested one, and ``tests/unit/batching/test_dispatcher.py`` fails when the
internals it relies on change. Upstream, a dispatcher option to skip the cork
when idle would make this module unnecessary.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from sentiment import leases
from sentiment.batching import policy
from sentiment.errors import DeadlineExceeded
from sentiment.patches import one_connection
from sentiment.patches.internals import (
    CorkDispatcher,
    Job,
    ServiceAppFactory,
    bentoml_app,
)
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import BATCH_DROPS, TENANT_REVIEWS

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


class OptimizerFit:
    """BentoML's linear fit of batch durations, read live (a :class:`policy.Fit`).

    Not copied into a :class:`policy.BatchFit` per request: the copy cost each
    arriving request 0.3 us (timeit: 0.90 against 0.62 us for :meth:`goes_now`).
    """

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer

    def expected_s(self, size: int) -> float:
        """Seconds a batch of ``size`` items should take (0 until warmed up)."""
        fit = self.optimizer
        return policy.expected_batch_s(fit.o_a, fit.o_b, len(fit.o_stat), size)


class IdleDispatcher(CorkDispatcher[Any, Any]):
    """``CorkDispatcher`` that dispatches the queue as soon as the model is idle."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Each queued job's lease, by its future (attrs' Job has slots, no room).
        self.leases: dict[asyncio.Future[Any], leases.Lease] = {}
        self.fit = OptimizerFit(self.optimizer)

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
        except asyncio.CancelledError:  # its caller gave up: a gRPC call cancelled
            self.withdraw(future, lease.tenant)
            raise
        finally:
            del self.leases[future]

    def withdraw(self, future: asyncio.Future[Any], tenant: str) -> None:
        """Take a cancelled caller's job out of the queue: no model time for nobody.

        A REST client that leaves is seen through its lease instead
        (:meth:`leave_out_the_abandoned`); a job already in a batch runs to its end.
        """
        for job in self._queue:
            if job.future is future:
                self._queue.remove(job)
                BATCH_DROPS.labels(reason="disconnect", tenant=tenant).inc()
                return

    def goes_now(self, lease: leases.Lease) -> bool:
        """Whether the request just queued goes at once (:func:`policy.goes_now`)."""
        busy = self._sema.is_locked()
        queued = len(self._queue)
        return policy.goes_now(lease, queued, busy, time.monotonic(), self.fit)

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
        """Answer, and take out of the queue, the jobs :func:`policy.leave_out` drops.

        Checked as the batch is about to form, so a request the model has not
        reached yet costs no model time once nobody waits for it: a late one is
        answered 504 ``deadline_exceeded``, one whose client left is cancelled.

        Returns:
            Whether the queue is now empty (nothing to dispatch).
        """
        if not self.leases:
            return False
        queue = self._queue
        size = min(len(queue), self.max_batch_size)
        ends_at = time.monotonic() + self.fit.expected_s(size)
        kept, dropped = policy.leave_out(
            ((job, self.lease_unless_answered(job)) for job in queue), ends_at
        )
        for job, lease, reason in dropped:
            BATCH_DROPS.labels(reason=reason, tenant=lease.tenant).inc()
            if reason == "disconnect":
                job.future.cancel()
            else:
                job.future.set_result(DeadlineExceeded(DeadlineExceeded.passed))
        if dropped:
            queue.clear()
            queue.extend(kept)
        return not queue

    def lease_unless_answered(self, job: Job[Any, Any]) -> leases.Lease | None:
        """A queued job's lease; None without one or once its future is done."""
        return None if job.future.done() else self.leases.get(job.future)

    def shed_one_if_late(self) -> bool:
        """Cancel (503) the oldest request if :func:`policy.sheds_oldest` says so."""
        waited = time.time() - self._queue[0].enqueue_time
        busy = self._sema.is_locked()
        queued = len(self._queue)
        if policy.sheds_oldest(queued, waited, busy, self.max_latency, self.fit):
            self._queue.popleft().future.cancel()
            return True
        return False

    @functools.cached_property
    def idle(self) -> asyncio.Event:
        """Set when no batch runs: cleared by :meth:`start_batch`, set when it ends."""
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
        self.idle.clear()
        self._sema.acquire()
        jobs = self.take_batch()
        if self.leases:
            self.count_reviews(jobs)
        return jobs

    def take_batch(self) -> tuple[Job[Any, Any], ...]:
        """The next batch: the whole queue, or :func:`policy.fair_batch`'s jobs."""
        queue = self._queue
        if not self.leases or len(queue) < 2:
            return tuple(self._get_inputs())
        owners = [self.leases.get(job.future) for job in queue]
        if not policy.several_tenants(owners):
            return tuple(self._get_inputs())
        # BentoML's batch size of a 100-review list takes about 8 us: only now,
        # with several tenants queued (measured: sizing every queue cost the
        # single-tenant bulk path 2-5%).
        sizes = [self.get_batch_size(job.data) for job in queue]
        if sum(sizes) <= self.max_batch_size:
            return tuple(self._get_inputs())
        lanes, weights = policy.tenant_lanes(zip(queue, sizes, owners, strict=True))
        chosen = policy.fair_batch(lanes, weights, self.max_batch_size)
        taken = {id(job) for job in chosen}
        rest = [job for job in queue if id(job) not in taken]
        queue.clear()
        queue.extend(chosen)
        batch = tuple(self._get_inputs())  # splits a job that does not fit, as before
        queue.extend(rest)
        return batch

    async def run_alone(self) -> None:
        """Run the one queued request's batch in this task, on the event loop.

        Only for a request that :meth:`goes_now`, is the only one in the
        dispatcher and comes on the worker's only open connection (a lone
        client; :func:`sentiment.patches.one_connection`): the loop then has
        nothing else to do while the model runs, and BentoML's hop to its worker
        thread and back (``anyio.to_thread``, two wake-ups) is pure latency.
        Under load the thread path stays: while a batch runs there, the loop
        reads the next requests, which form the next batch (run here, every
        request of single reviews at 64 connections was its own batch: 1,375
        against 2,950 reviews/s, also when gated on the requests inside the
        edge, which admission lets in a few at a time). Needs
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


def install(policy: str) -> bool:
    """Make BentoML build :class:`IdleDispatcher` for batchable APIs.

    Args:
        policy: ``idle`` (this module) or ``cork`` (BentoML's own, unchanged).

    Returns:
        Whether the idle dispatcher is now in use.
    """
    if policy != "idle":
        bentoml_app.CorkDispatcher = CorkDispatcher  # type: ignore[attr-defined]
        return False
    bentoml_app.CorkDispatcher = IdleDispatcher  # type: ignore[attr-defined]
    run_lone_batches_inline()
    return True


def run_lone_batches_inline() -> None:
    """Make BentoML's ``_to_thread`` call the function in place when INLINE is set.

    A sync batchable API runs in ``ServiceAppFactory.batch_infer``'s callback as
    ``await self._to_thread(func, batch)``; only :class:`IdleDispatcher` sets
    :data:`INLINE` (a lone client's batch), so every other call (other APIs,
    every other batch) still goes to BentoML's thread. Idempotent.
    """
    to_thread = ServiceAppFactory._to_thread
    if getattr(to_thread, "inline_by_sentiment", False):
        return

    async def _to_thread(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        if INLINE.get():
            return func(*args, **kwargs)
        return await to_thread(self, func, *args, **kwargs)

    _to_thread.inline_by_sentiment = True  # type: ignore[attr-defined]
    ServiceAppFactory._to_thread = _to_thread  # type: ignore[method-assign]

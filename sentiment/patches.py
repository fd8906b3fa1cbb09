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

This replaces a BentoML internal, so it is pinned: :func:`install` patches only
the version it was written for (:data:`BENTOML_VERSION`) and otherwise logs a
warning and leaves BentoML's dispatcher in place; ``tests/unit/test_dispatch.py``
fails when the version or the internals it relies on change. Upstream, a
dispatcher option to skip the cork when idle would make this module unnecessary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import bentoml
from bentoml._internal.marshal.dispatcher import CorkDispatcher

BENTOML_VERSION = "1.4.40"
WARM_UP_BATCHES = 20  # batches seen before trusting the latency model
logger = logging.getLogger("bentoml.service.sentiment")


class IdleDispatcher(CorkDispatcher[Any, Any]):
    """``CorkDispatcher`` that dispatches the queue as soon as the model is idle."""

    async def controller(self) -> None:
        """Wait for requests; shed those that cannot make it; dispatch when idle."""
        while True:
            try:
                async with self._wake_event:
                    await self._wake_event.wait_for(self._queue.__len__)
                if self.shed_one_if_late():
                    continue
                if self._sema.is_locked():
                    await asyncio.sleep(self.TICKET_INTERVAL)
                    continue
                self.dispatch()
            except Exception:  # the loop must survive anything, as BentoML's does
                logger.exception("error in the batching dispatcher")

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

    def dispatch(self) -> None:
        """Send everything queued (up to ``max_batch_size``) to the model now."""
        self._sema.acquire()
        jobs = tuple(self._get_inputs())
        self._loop.create_task(self.outbound_call(jobs))


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
    return True


def active_policy(dispatcher: Any) -> str:
    """``idle`` or ``cork``: which policy a dispatcher object runs."""
    return "idle" if isinstance(dispatcher, IdleDispatcher) else "cork"

"""IdleDispatcher's two ways past the batching queue's usual path.

Express requests (a tenant under its share while another fills the worker) are
scored at once beside the running batch; under overload
(:mod:`sentiment.pressure`) batches run on the event loop. The rest of the
dispatcher's tests are in ``test_patches.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest
from bentoml._internal.marshal.dispatcher import Job

from sentiment import leases, patches, pressure
from sentiment.patches import IdleDispatcher
from sentiment.patches.dispatcher import EXPRESS_MAX_ITEMS
from tests.unit.test_patches import leased, turns


class ThreadModel:
    """A batch callback busy until released on BentoML's thread, instant inline."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[int], bool]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: Sequence[int]) -> list[int]:
        inline = patches.INLINE.get()
        self.batches.append((list(items), inline))
        if not inline:
            await self.release.wait()
        return [item * 10 for item in items]


def sized(loop_batches: str = "never") -> IdleDispatcher:
    """A dispatcher whose items are their own size (an int n: n reviews)."""
    idle = IdleDispatcher(1000, 64, fallback=lambda: None, get_batch_size=int)
    idle.loop_batches = loop_batches
    return idle


def sized_dispatcher(model: ThreadModel, loop_batches: str = "never") -> object:
    """:func:`sized`'s call, with ``model`` as its batch callback."""
    return sized(loop_batches)(model)


def test_an_express_request_is_scored_at_once_beside_the_running_batch() -> None:
    async def scenario() -> None:
        model = ThreadModel()
        call = sized_dispatcher(model)
        busy = asyncio.ensure_future(call(1))  # type: ignore[operator]
        await turns()
        queued = asyncio.ensure_future(leased(call, 2, leases.Lease("flood")))
        express = asyncio.ensure_future(
            leased(call, 3, leases.Lease("polite", express=True))
        )
        await turns()
        assert express.done() and express.result() == 30, "it did not wait"
        assert not queued.done(), "a request without express waits its turn"
        assert model.batches == [([1], False), ([3], True)]
        model.release.set()
        assert await asyncio.gather(busy, queued) == [10, 20]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("size", "lease"),
    [
        (EXPRESS_MAX_ITEMS + 1, leases.Lease("polite", express=True)),
        (1, leases.Lease("polite", express=True, deadline=0.0)),
        (1, leases.Lease("polite", express=True, gone=lambda: True)),
    ],
    ids=["too many reviews", "past its deadline", "client gone"],
)
def test_an_express_request_too_large_late_or_abandoned_takes_the_queue(
    size: int, lease: leases.Lease
) -> None:
    async def scenario() -> None:
        model = ThreadModel()
        call = sized_dispatcher(model)
        busy = asyncio.ensure_future(call(1))  # type: ignore[operator]
        await turns()
        other = asyncio.ensure_future(leased(call, size, lease))
        await turns()
        assert model.batches == [([1], False)], "nothing ran beside the batch"
        model.release.set()
        await busy
        other.cancel()

    asyncio.run(scenario())


def test_express_to_an_idle_model_is_an_ordinary_batch() -> None:
    async def scenario() -> None:
        model = ThreadModel()
        model.release.set()
        call = sized_dispatcher(model)
        lease = leases.Lease("polite", express=True)
        assert await leased(call, 2, lease) == 20
        assert model.batches == [([2], False)], "no batch ran: nothing to skip"

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("loop_batches", "refused_ago_s", "on_loop"),
    [
        ("always", None, True),
        ("never", 0.0, False),
        ("overload", 0.0, True),
        ("overload", pressure.WINDOW_S * 2, False),
    ],
)
def test_batches_run_on_the_loop_as_loop_batches_says(
    loop_batches: str, refused_ago_s: float | None, on_loop: bool
) -> None:
    async def scenario() -> None:
        model = ThreadModel()
        model.release.set()
        call = sized_dispatcher(model, loop_batches)
        busy = asyncio.ensure_future(call(1))  # type: ignore[operator]
        await turns()
        assert await busy == 10
        assert model.batches == [([1], on_loop)]

    saved = pressure.WORKER.marked_at
    try:
        pressure.WORKER.marked_at = float("-inf")
        if refused_ago_s is not None:
            pressure.WORKER.mark(time.monotonic() - refused_ago_s)
        asyncio.run(scenario())
    finally:
        pressure.WORKER.marked_at = saved


def test_a_batch_on_the_loop_takes_what_queued_before_its_task_started() -> None:
    async def scenario() -> None:
        model = ThreadModel()
        idle = sized("always")
        idle(model)
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(2)]
        idle._queue.append(Job(0.0, 1, futures[0]))
        idle.dispatch()
        idle._queue.append(Job(0.0, 2, futures[1]))  # before the task's first step
        assert await asyncio.gather(*futures) == [10, 20]
        assert model.batches == [([1, 2], True)], "one batch, on the loop"
        assert idle.idle.is_set() and not idle._sema.is_locked()

    asyncio.run(scenario())


def test_a_failing_express_call_is_raised_to_its_caller_and_inline_reset() -> None:
    async def scenario() -> None:
        model = ThreadModel()

        async def failing(items: Sequence[int]) -> list[int]:
            if patches.INLINE.get():
                raise ValueError("model failed")
            return await model(items)

        call = sized()(failing)
        busy = asyncio.ensure_future(call(1))
        await turns()
        lease = leases.Lease("polite", express=True)
        with pytest.raises(ValueError, match="model failed"):
            await leased(call, 2, lease)
        assert patches.INLINE.get() is False, "INLINE does not leak"
        model.release.set()
        assert await busy == 10

    asyncio.run(scenario())


def test_a_batch_on_the_loop_whose_requests_all_left_frees_the_model() -> None:
    async def scenario() -> None:
        idle = sized("always")
        model = ThreadModel()
        idle(model)
        future = asyncio.get_running_loop().create_future()
        idle._queue.append(Job(0.0, 1, future))
        idle.dispatch()
        idle._queue.clear()  # it left before the batch's task started
        await turns()
        assert model.batches == [], "no empty batch reaches the model"
        assert idle.idle.is_set() and not idle._sema.is_locked()

    asyncio.run(scenario())

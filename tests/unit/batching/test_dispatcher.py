"""sentiment.batching.dispatcher: BentoML's batching queue run by the policy.

The first tests fail loudly when BentoML changes: :class:`IdleDispatcher`
subclasses an internal class, so a new BentoML version must be re-checked
before it ships. The rest drive the dispatcher with a fake model callback. The
policy's decisions alone, on plain data, are in ``test_policy.py``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Callable, Sequence

from bentoml._internal.marshal.dispatcher import CorkDispatcher
from prometheus_client import REGISTRY

from sentiment import leases
from sentiment.batching.dispatcher import (
    INLINE,
    IdleDispatcher,
    install,
    run_lone_batches_inline,
)
from sentiment.batching.policy import WARM_UP_BATCHES
from sentiment.errors import DeadlineExceeded
from sentiment.patches import connections


def test_bentoml_internals_the_dispatcher_relies_on_are_there() -> None:
    from _bentoml_impl.server import app

    assert "CorkDispatcher(" in inspect.getsource(app.ServiceAppFactory.__init__)
    dispatcher = CorkDispatcher(1000, 8, fallback=lambda: None)
    for name in ("_queue", "_sema", "optimizer", "max_latency", "TICKET_INTERVAL"):
        assert hasattr(dispatcher, name), name
    for name in ("_get_inputs", "outbound_call", "controller", "_wake_event"):
        assert hasattr(CorkDispatcher, name), name
    for name in ("o_a", "o_b", "outbound_counter", "trigger_refresh"):
        assert hasattr(dispatcher.optimizer, name), name


def test_install_switches_the_class_bentoml_builds() -> None:
    from _bentoml_impl.server import app

    try:
        assert install("idle") is True and app.CorkDispatcher is IdleDispatcher
        assert install("cork") is False and app.CorkDispatcher is CorkDispatcher
    finally:
        install("idle")


def test_bentoml_batches_go_through_the_to_thread_it_patches() -> None:
    from _bentoml_impl.server import app

    assert "await self._to_thread(func, batch" in inspect.getsource(
        app.ServiceAppFactory.batch_infer
    )


class Model:
    """A batch callback that records batches and can be held busy."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await self.release.wait()
        return [item * 10 for item in items]


async def turns(count: int = 50) -> None:
    """Let the event loop run ``count`` times, no wall clock involved."""
    for _ in range(count):
        await asyncio.sleep(0)


def dispatcher(model: Model, max_latency_ms: int = 10_000) -> object:
    def overloaded() -> None:
        raise RuntimeError("shed")

    idle = IdleDispatcher(
        max_latency_ms, 64, fallback=overloaded, get_batch_size=lambda _: 1
    )
    idle.optimizer.wait = 5.0  # as if a burst had taught it to hold requests 5 s
    return idle(model)


def test_a_lone_request_goes_to_the_model_at_once() -> None:
    async def scenario() -> None:
        model = Model()
        call = dispatcher(model)
        task = asyncio.ensure_future(call(7))
        await turns()
        assert model.batches == [[7]], "the request was held back"
        assert await task == 70

    asyncio.run(scenario())


def test_a_lone_leased_request_to_an_idle_model_is_dispatched_by_its_own_call() -> None:
    async def never_dispatches() -> None:
        await asyncio.Event().wait()

    def without_controller(model: Model) -> object:
        idle = IdleDispatcher(
            1000, 64, fallback=lambda: None, get_batch_size=lambda _: 1
        )
        idle.controller = never_dispatches  # type: ignore[method-assign]
        return idle(model)

    async def scenario() -> None:
        model = Model()
        call = without_controller(model)
        lease = leases.Lease("lone-tenant", deadline=float("inf"))
        assert await leased(call, 7, lease) == 70, "dispatched without the controller"
        model.release.clear()
        busy = asyncio.ensure_future(leased(call, 1, lease))
        await turns()
        queued = asyncio.ensure_future(leased(call, 2, lease))
        await turns()
        assert model.batches == [[7], [1]], "a busy model: left to the controller"
        model.release.set()
        assert await busy == 10
        queued.cancel()

        other = Model()
        late = leases.Lease("lone-tenant", deadline=0.0)
        held = asyncio.ensure_future(leased(without_controller(other), 3, late))
        await turns()
        assert other.batches == [], "a late request is left to the controller too"
        held.cancel()

    asyncio.run(scenario())


def test_requests_arriving_during_a_batch_form_the_next_batch() -> None:
    async def scenario() -> None:
        model = Model()
        call = dispatcher(model)
        model.release.clear()
        first = asyncio.ensure_future(call(1))
        await turns()
        later = [asyncio.ensure_future(call(i)) for i in range(2, 7)]
        await turns()
        assert model.batches == [[1]], "nothing else starts while the model is busy"
        model.release.set()
        assert await first == 10
        assert await asyncio.gather(*later) == [20, 30, 40, 50, 60]
        assert model.batches == [[1], [2, 3, 4, 5, 6]]

    asyncio.run(scenario())


def test_requests_that_cannot_make_the_latency_budget_are_shed() -> None:
    async def scenario() -> None:
        model = Model()
        call = dispatcher(model, max_latency_ms=1)
        model.release.clear()
        busy = asyncio.ensure_future(call(1))
        await turns()
        queued = [asyncio.ensure_future(call(i)) for i in range(2, 5)]
        await asyncio.sleep(0.01)  # let the queued requests outlive their 1 ms budget
        await turns()
        model.release.set()
        results = await asyncio.gather(*queued, return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results), results
        assert await busy == 10

    asyncio.run(scenario())


def test_an_untrained_latency_model_sheds_nothing_that_has_not_waited() -> None:
    async def scenario() -> None:
        model = Model()
        idle = IdleDispatcher(
            1000, 64, fallback=lambda: None, get_batch_size=lambda _: 1
        )
        idle.optimizer.o_a = 5.0  # a wild first guess: 5 s per request
        call = idle(model)
        model.release.clear()
        busy = asyncio.ensure_future(call(1))
        await turns()
        queued = [asyncio.ensure_future(call(i)) for i in range(2, 6)]
        await turns()
        model.release.set()
        assert await asyncio.gather(busy, *queued) == [10, 20, 30, 40, 50]

    asyncio.run(scenario())


def dropped(reason: str, tenant: str) -> float:
    labels = {"reason": reason, "tenant": tenant}
    return REGISTRY.get_sample_value("sentiment_batch_dropped_total", labels) or 0.0


async def leased(call: object, item: int, lease: leases.Lease) -> object:
    """Call the dispatcher the way a request admitted with ``lease`` does."""
    leases.CURRENT.set(lease)  # this task's own context: it ends with the task
    return await call(item)  # type: ignore[operator]


async def behind_a_running_batch(
    call: object,
    model: Model,
    second: leases.Lease,
    third: leases.Lease,
    meanwhile: Callable[[], None] = lambda: None,
) -> list[object]:
    """Items 2 and 3 queue, with these leases, while item 1's batch runs.

    ``meanwhile`` runs once both are queued, before item 1's batch ends. Returns
    the three results (exceptions as results).
    """
    model.release.clear()
    busy = asyncio.ensure_future(call(1))  # type: ignore[operator]
    await turns()
    queued = [
        asyncio.ensure_future(leased(call, 2, second)),
        asyncio.ensure_future(leased(call, 3, third)),
    ]
    await turns()
    meanwhile()
    model.release.set()
    return await asyncio.gather(busy, *queued, return_exceptions=True)


def test_a_queued_request_past_its_deadline_is_left_out_of_the_batch() -> None:
    async def scenario() -> None:
        model = Model()
        before = dropped("deadline", "late-tenant")
        late = leases.Lease("late-tenant", deadline=0.0)  # long past
        on_time = leases.Lease("late-tenant", deadline=float("inf"))
        results = await behind_a_running_batch(dispatcher(model), model, late, on_time)
        assert results[0] == 10 and results[2] == 30
        assert isinstance(results[1], DeadlineExceeded)
        assert model.batches == [[1], [3]], "the late request never reached the model"
        assert dropped("deadline", "late-tenant") == before + 1

    asyncio.run(scenario())


def test_a_request_its_batch_would_make_late_is_left_out() -> None:
    async def scenario() -> None:
        model = Model()
        idle = IdleDispatcher(  # a budget of 1,000 s: nothing is shed for it
            1_000_000, 64, fallback=lambda: None, get_batch_size=lambda _: 1
        )
        for _ in range(WARM_UP_BATCHES):  # a trained fit: every batch takes 100 s
            idle.optimizer.o_stat.append((1, 100.0, 0.0))
        idle.optimizer.o_a, idle.optimizer.o_b = 50.0, 50.0
        before = dropped("deadline", "batch-tenant")
        # Due in 60 s: not yet past, but the batch would end after it.
        doomed = leases.Lease("batch-tenant", deadline=time.monotonic() + 60)
        fine = leases.Lease("batch-tenant", deadline=time.monotonic() + 10_000)
        results = await behind_a_running_batch(idle(model), model, doomed, fine)
        assert results[0] == 10 and results[2] == 30
        assert isinstance(results[1], DeadlineExceeded)
        assert model.batches == [[1], [3]]
        assert dropped("deadline", "batch-tenant") == before + 1

    asyncio.run(scenario())


def test_a_request_whose_client_left_is_left_out_of_the_batch() -> None:
    async def scenario() -> None:
        model = Model()
        client = {"gone": False}
        lease = leases.Lease("gone-tenant", gone=lambda: client["gone"])
        before = dropped("disconnect", "gone-tenant")

        def disconnect() -> None:  # before its batch forms
            client["gone"] = True

        results = await behind_a_running_batch(
            dispatcher(model), model, lease, leases.Lease("gone-tenant"), disconnect
        )
        assert results[0] == 10 and results[2] == 30
        assert isinstance(results[1], RuntimeError), "cancelled: BentoML's fallback"
        assert model.batches == [[1], [3]]
        assert dropped("disconnect", "gone-tenant") == before + 1

    asyncio.run(scenario())


def test_reviews_sent_to_the_model_are_counted_by_tenant() -> None:
    async def scenario() -> None:
        model = Model()
        call = dispatcher(model)
        labels = {"tenant": "counted"}
        name = "sentiment_tenant_reviews_total"
        before = REGISTRY.get_sample_value(name, labels) or 0.0
        await leased(call, 4, leases.Lease("counted"))
        assert REGISTRY.get_sample_value(name, labels) == before + 1

    asyncio.run(scenario())


def test_the_next_batch_starts_when_the_busy_one_ends_not_at_a_poll() -> None:
    async def scenario() -> None:
        model = Model()
        call = dispatcher(model)
        model.release.clear()
        first = asyncio.ensure_future(call(1))
        await turns()
        second = asyncio.ensure_future(call(2))
        await turns()
        model.release.set()
        await turns(10)  # loop turns only: a 1 ms poll would not have fired yet
        assert model.batches == [[1], [2]]
        assert await asyncio.gather(first, second) == [10, 20]

    asyncio.run(scenario())


def test_the_next_batch_takes_each_tenant_in_turn_when_the_queue_is_longer() -> None:
    async def scenario() -> None:
        model = Model()
        idle = IdleDispatcher(
            1000, 4, fallback=lambda: None, get_batch_size=lambda _: 1
        )
        call = idle(model)
        heavy, light = leases.Lease("heavy"), leases.Lease("light")
        model.release.clear()
        busy = asyncio.ensure_future(leased(call, 1, heavy))
        await turns()
        backlog = [asyncio.ensure_future(leased(call, i, heavy)) for i in range(2, 9)]
        await turns()
        polite = asyncio.ensure_future(leased(call, 100, light))
        await turns()
        model.release.set()
        assert await asyncio.gather(busy, polite, *backlog)
        assert model.batches[1] == [2, 100, 3, 4], "first come, first served: 2-5"
        assert model.batches[2:] == [[5, 6, 7, 8]]

    asyncio.run(scenario())


def test_to_thread_runs_in_place_only_while_inline_is_set() -> None:
    import anyio
    from _bentoml_impl.server.app import ServiceAppFactory

    class Factory:
        _limiter = anyio.CapacityLimiter(1)

    run_lone_batches_inline()
    run_lone_batches_inline()  # idempotent: one wrapper, not two

    async def scenario() -> tuple[int, int]:
        hop = await ServiceAppFactory._to_thread(Factory(), threading.get_ident)
        token = INLINE.set(True)
        try:
            here = await ServiceAppFactory._to_thread(Factory(), threading.get_ident)
        finally:
            INLINE.reset(token)
        return hop, here

    hop, here = asyncio.run(scenario())
    assert here == threading.get_ident() != hop


def test_a_lone_clients_batch_runs_in_its_task_without_the_thread_hop() -> None:
    seen: list[bool] = []

    async def model(items: Sequence[int]) -> list[int]:
        seen.append(INLINE.get())
        return [item * 10 for item in items]

    async def scenario() -> object:
        idle = IdleDispatcher(
            1000, 64, fallback=lambda: None, get_batch_size=lambda _: 1
        )
        return await leased(idle(model), 7, leases.Lease("lone"))

    saved = list(connections._CONNECTIONS)
    try:
        for open_connections, inline in ((1, True), (2, False)):
            connections._CONNECTIONS[:] = [set(range(open_connections))]
            assert asyncio.run(scenario()) == 70
            assert seen.pop() is inline, f"{open_connections} connection(s)"
    finally:
        connections._CONNECTIONS[:] = saved

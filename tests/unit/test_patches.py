"""Unit tests for sentiment.patches: the idle-first batching policy, and its pin.

The first tests fail loudly when BentoML changes: the dispatcher replaces an
internal class, so a new BentoML version must be re-checked before it ships.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from typing import Any

import bentoml
import pytest
import uvicorn
from bentoml._internal.marshal.dispatcher import CorkDispatcher, Job
from prometheus_client import REGISTRY

from sentiment import leases, patches
from sentiment.errors import DeadlineExceeded
from sentiment.patches import (
    BENTOML_VERSION,
    UVICORN_VERSION,
    WARM_UP_BATCHES,
    IdleDispatcher,
    bind_apis_once,
    client_gone,
    connections,
    fair_batch,
    install,
    keep_tasks_for,
    model_store_path,
    one_connection,
    run_lone_batches_inline,
    swagger_assets,
    task_store,
    wrap_asgi_app,
)


def test_bentoml_is_the_version_the_dispatcher_was_written_for() -> None:
    assert bentoml.__version__ == BENTOML_VERSION, (
        "BentoML changed: re-check sentiment/patches/ against "
        "bentoml/_internal/marshal/dispatcher.py, then update BENTOML_VERSION"
    )


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


def test_the_worker_builds_its_app_with_to_asgi_and_sets_the_task_id() -> None:
    from _bentoml_impl.server import app
    from _bentoml_impl.worker import service

    assert "service.to_asgi(" in inspect.getsource(service), "wrap_asgi_app hooks it"
    assert "request.state.task_id = task_id" in inspect.getsource(app), (
        "task_id_of reads it"
    )


class _Echo:
    """A service class with one API, for bind_apis_once."""

    @bentoml.api(batchable=True)
    def echo(self, texts: list[str]) -> list[str]:
        return [t.upper() for t in texts]


def test_bind_apis_once_keeps_one_caller_that_still_answers() -> None:
    from _bentoml_impl.server import app
    from bentoml._internal.runner.container import (
        DataContainerRegistry,
        DefaultContainer,
    )
    from bentoml._internal.types import LazyType

    source = inspect.getsource(app.ServiceAppFactory)
    assert source.count("getattr(self._service_instance, name).local") == 2, (
        "BentoML's per-request lookup changed: re-check bind_apis_once"
    )
    instance = _Echo()
    assert instance.echo.local is not instance.echo.local  # rebuilt each read
    bind_apis_once(instance)
    assert instance.echo.local is instance.echo.local
    assert instance.echo.local(["a", "b"]) == ["A", "B"]
    assert DataContainerRegistry.find_by_batch_type(list) is DefaultContainer
    assert LazyType.from_type(list) in DataContainerRegistry.CONTAINER_BATCH_TYPE_MAP


def test_the_store_internals_the_patches_read_are_there() -> None:
    from _bentoml_impl.tasks.result import Sqlite3Store
    from bentoml._internal.configuration.containers import BentoMLContainer

    assert isinstance(Sqlite3Store.RESULT_RETENTION, int)
    assert "self.RESULT_RETENTION" in inspect.getsource(Sqlite3Store)
    assert model_store_path().is_absolute()
    assert str(task_store()) == str(BentoMLContainer.result_store_file.get())
    assert (swagger_assets() / "index.css").is_file()


def test_wrap_asgi_app_wraps_only_that_service_once_with_its_factory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from _bentoml_impl.server import app

    class Factory:
        def __init__(self, service: Any, is_main: bool) -> None:
            self.service, self.is_main = service, is_main

        def __call__(self) -> str:
            return "app"

    class Service:
        configured = 0

        def inject_config(self) -> None:
            self.configured += 1

        def to_asgi(self, is_main: bool = True) -> str:
            return "own app"

    monkeypatch.setattr(app, "ServiceAppFactory", Factory)
    service, other = Service(), Service()
    seen: list[Any] = []

    def wrap(built: str, factory: Any) -> str:
        seen.append(factory)
        return f"wrapped({built})"

    wrap_asgi_app(service, wrap)
    wrap_asgi_app(service, lambda built, factory: f"twice({built})")
    assert service.to_asgi() == "wrapped(app)" and service.configured == 1
    assert isinstance(seen[0], Factory) and seen[0].service is service
    assert seen[0].is_main is True
    assert other.to_asgi() == "own app"


def test_keep_tasks_for_sets_bentomls_retention() -> None:
    from _bentoml_impl.tasks.result import Sqlite3Store

    before = Sqlite3Store.RESULT_RETENTION
    try:
        keep_tasks_for(90.5)
        assert Sqlite3Store.RESULT_RETENTION == 90
    finally:
        Sqlite3Store.RESULT_RETENTION = before


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


def test_uvicorn_keeps_the_disconnected_flag_client_gone_reads() -> None:
    from uvicorn.protocols.http import h11_impl, httptools_impl

    assert uvicorn.__version__ == UVICORN_VERSION, (
        "uvicorn changed: re-check sentiment/patches/connections.py"
    )
    protocols = (
        (httptools_impl, httptools_impl.HttpToolsProtocol),
        (h11_impl, h11_impl.H11Protocol),
    )
    for module, protocol in protocols:
        assert "self.disconnected = False" in inspect.getsource(
            module.RequestResponseCycle
        )
        lost = inspect.getsource(protocol.connection_lost)
        assert "self.cycle.disconnected = True" in lost


def test_client_gone_reads_the_cycle_behind_receive() -> None:
    class Cycle:
        disconnected = False

        async def receive(self) -> dict[str, str]:
            return {"type": "http.request"}

    cycle = Cycle()
    gone = client_gone(cycle.receive)
    assert gone is not None and gone() is False
    cycle.disconnected = True
    assert gone() is True

    async def plain_receive() -> dict[str, str]:
        return {}

    assert client_gone(plain_receive) is None


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


def lanes_of(**jobs: list[int]) -> dict[str, deque[tuple[Job[Any, Any], int]]]:
    """Tenant lanes of jobs with these sizes (each job's data is its tenant)."""
    return {
        name: deque((Job(0.0, name, None), size) for size in sizes)  # type: ignore[arg-type]
        for name, sizes in jobs.items()
    }


def test_a_fair_batch_takes_a_light_tenants_review_beside_anothers_backlog() -> None:
    lanes = lanes_of(bulk=[100] * 10, light=[1, 1, 1])
    chosen = fair_batch(lanes, {"bulk": 1.0, "light": 1.0}, capacity=256)
    assert [job.data for job in chosen].count("light") == 3, "all 3, not after 25"
    assert sum(job.data == "bulk" for job in chosen) == 3, "the third one is split"


def test_a_fair_batch_splits_by_weight_counted_once() -> None:
    lanes = lanes_of(a=[1] * 300, b=[1] * 300)
    chosen = fair_batch(lanes, {"a": 3.0, "b": 1.0}, capacity=100)
    assert Counter(job.data for job in chosen) == {"a": 75, "b": 25}


def test_a_job_larger_than_the_batch_is_not_kept_out_by_smaller_ones() -> None:
    lanes = lanes_of(huge=[1_000], small=[1] * 1_000)
    chosen = fair_batch(lanes, {"huge": 1.0, "small": 1.0}, capacity=64)
    assert "huge" in [job.data for job in chosen]


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


def test_bentoml_batches_go_through_to_thread_and_uvicorn_keeps_connections() -> None:
    from _bentoml_impl.server import app
    from uvicorn.protocols.http import h11_impl, httptools_impl

    assert "await self._to_thread(func, batch" in inspect.getsource(
        app.ServiceAppFactory.batch_infer
    )
    for module in (httptools_impl, h11_impl):
        assert "self.on_response = on_response" in inspect.getsource(
            module.RequestResponseCycle.__init__
        )
    assert "functools.partial(getattr, cycle" in inspect.getsource(client_gone)
    for protocol in (httptools_impl.HttpToolsProtocol, h11_impl.H11Protocol):
        init = inspect.getsource(protocol.__init__)
        assert "self.connections = server_state.connections" in init


def test_to_thread_runs_in_place_only_while_inline_is_set() -> None:
    import anyio
    from _bentoml_impl.server.app import ServiceAppFactory

    class Factory:
        _limiter = anyio.CapacityLimiter(1)

    run_lone_batches_inline()
    run_lone_batches_inline()  # idempotent: one wrapper, not two

    async def scenario() -> tuple[int, int]:
        hop = await ServiceAppFactory._to_thread(Factory(), threading.get_ident)
        token = patches.INLINE.set(True)
        try:
            here = await ServiceAppFactory._to_thread(Factory(), threading.get_ident)
        finally:
            patches.INLINE.reset(token)
        return hop, here

    hop, here = asyncio.run(scenario())
    assert here == threading.get_ident() != hop


def test_one_connection_reads_uvicorns_set_behind_the_leases_cycle() -> None:
    class Protocol:
        def __init__(self) -> None:
            self.connections: set[object] = {self}

        def on_response_complete(self) -> None:
            pass

    class Cycle:
        disconnected = False

        def __init__(self, protocol: Protocol) -> None:
            self.on_response = protocol.on_response_complete

        async def receive(self) -> dict[str, str]:
            return {}

    protocol = Protocol()
    saved = list(connections._CONNECTIONS)
    connections._CONNECTIONS.clear()
    try:
        assert one_connection(leases.Lease("t", gone=lambda: False)) is False
        lease = leases.Lease("t", gone=client_gone(Cycle(protocol).receive))
        assert one_connection(lease) is True
        protocol.connections.add(object())
        assert one_connection(lease) is False
    finally:
        connections._CONNECTIONS[:] = saved


def test_a_lone_clients_batch_runs_in_its_task_without_the_thread_hop() -> None:
    seen: list[bool] = []

    async def model(items: Sequence[int]) -> list[int]:
        seen.append(patches.INLINE.get())
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


def test_the_rest_of_a_split_request_is_not_another_tenant() -> None:
    async def scenario() -> None:
        idle = IdleDispatcher(1000, 4, fallback=lambda: None)
        loop = asyncio.get_running_loop()
        jobs = [Job(0.0, i, loop.create_future()) for i in range(3)]
        idle.leases[jobs[0].future] = leases.Lease("a")
        idle.leases[jobs[2].future] = leases.Lease("a")
        idle._queue.extend(jobs)  # jobs[1]: a split child, no lease of its own
        assert not idle.several_tenants()
        other = Job(0.0, 3, loop.create_future())
        idle.leases[other.future] = leases.Lease("b")
        idle._queue.append(other)
        assert idle.several_tenants()

    asyncio.run(scenario())

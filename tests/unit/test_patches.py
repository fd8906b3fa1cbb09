"""Unit tests for sentiment.patches: every reach into BentoML and uvicorn, and its pin.

The first tests fail loudly when BentoML changes: the patches replace its
internals, so a new BentoML version must be re-checked before it ships. The
batching dispatcher's own checks are in ``tests/unit/batching/test_dispatcher.py``.
"""

from __future__ import annotations

import inspect
from typing import Any

import bentoml
import pytest
import uvicorn

from sentiment import leases
from sentiment.patches import (
    BENTOML_VERSION,
    UVICORN_VERSION,
    bind_apis_once,
    client_gone,
    connections,
    keep_tasks_for,
    model_store_path,
    one_connection,
    swagger_assets,
    task_store,
    wrap_asgi_app,
)


def test_bentoml_is_the_version_the_patches_were_written_for() -> None:
    assert bentoml.__version__ == BENTOML_VERSION, (
        "BentoML changed: re-check sentiment/patches/ and "
        "sentiment/batching/dispatcher.py against it, then update BENTOML_VERSION"
    )


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


def test_uvicorn_keeps_the_connections_one_connection_reads() -> None:
    from uvicorn.protocols.http import h11_impl, httptools_impl

    for module in (httptools_impl, h11_impl):
        assert "self.on_response = on_response" in inspect.getsource(
            module.RequestResponseCycle.__init__
        )
    assert "functools.partial(getattr, cycle" in inspect.getsource(client_gone)
    for protocol in (httptools_impl.HttpToolsProtocol, h11_impl.H11Protocol):
        init = inspect.getsource(protocol.__init__)
        assert "self.connections = server_state.connections" in init

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
from sentiment.errors import StartupError
from sentiment.patches import (
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
from sentiment.patches.internals import TESTED


def test_bentoml_is_the_version_the_patches_were_written_for() -> None:
    assert bentoml.__version__ == TESTED["bentoml"], (
        "BentoML changed: re-check sentiment/patches/ and "
        "sentiment/batching/dispatcher.py against it, then update TESTED"
    )


def test_another_version_is_one_line_naming_both_and_the_canaries() -> None:
    from sentiment.patches.internals import version_problem

    assert version_problem() is None
    problem = version_problem({"bentoml": "1.4.41", "uvicorn": TESTED["uvicorn"]})
    assert problem is not None and "\n" not in problem
    assert "bentoml 1.4.41 (written for 1.4.40)" in problem
    assert "uvicorn" not in problem.split("installed:")[1]
    assert "`make canaries`" in problem


def test_on_another_version_no_private_name_is_imported() -> None:
    """The check runs before the imports: a changed BentoML cannot half-patch."""
    import subprocess
    import sys

    script = (
        "import importlib.metadata as m, sys\n"
        "real = m.version\n"
        "m.version = lambda n: '9.9.9' if n == 'bentoml' else real(n)\n"
        "try:\n"
        "    import sentiment.patches\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
        "print('_bentoml_impl.server.app' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0].startswith(StartupError.__name__) and "bentoml 9.9.9" in out[0]
    assert out[-1] == "False"


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
    import sentiment.patches

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

    monkeypatch.setattr(sentiment.patches, "ServiceAppFactory", Factory)
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

    assert uvicorn.__version__ == TESTED["uvicorn"], (
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

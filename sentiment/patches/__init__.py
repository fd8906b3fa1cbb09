"""Every reach into BentoML's and uvicorn's internals, behind one version check.

BentoML 1.4 has no public API for these; each is in this package, its private
imports all in :mod:`sentiment.patches.internals`, which refuses to load on a
BentoML or uvicorn other than the ones pinned, and ``tests/unit/test_patches.py``
(``make canaries``) fails when BentoML changes under one of them:

- whether a request's client has disconnected, read from uvicorn's request
  cycle behind ``receive`` (:func:`client_gone`);
- the worker's ASGI app, wrapped on the way out of ``Service.to_asgi``
  (:func:`wrap_asgi_app`: admission runs outside BentoML's own middlewares);
- the task store's retention, ``Sqlite3Store.RESULT_RETENTION``
  (:func:`keep_tasks_for`) and its file (:func:`task_store`);
- the model store's directory (:func:`model_store_path`);
- the task ID BentoML puts on a task request's state (:func:`task_id_of`);
- the Swagger UI assets BentoML serves (:func:`swagger_assets`);
- BentoML's per-request API lookups made once per worker: the bound API methods
  and the batch container of a list (:func:`bind_apis_once`);
- BentoML's batched and threaded API calls, input models, request series and
  tracing, for the model routes' one path (:class:`BentoApis`,
  :class:`RequestSeries`, :func:`traced`, in :mod:`sentiment.patches.endpoint`);
- the host and port of the worker's HTTP socket, handed to it as ``--fd``
  (:func:`http_address`, where the gRPC server listens beside it);
- the sync client's upload files, kept by its file manager (:func:`opened_files`,
  for :mod:`sentiment.client`).

The reaches into uvicorn's request cycle are :mod:`sentiment.patches.connections`;
the rest is here. One reach lives elsewhere: the batching dispatcher, a subclass
of BentoML's, beside the policy it runs (:mod:`sentiment.batching.dispatcher`,
its private imports from :mod:`~sentiment.patches.internals` too;
``tests/unit/batching/`` checks it).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bentoml

from sentiment.patches.connections import (
    client_gone,
    one_connection,
)
from sentiment.patches.endpoint import (
    BentoApis,
    RequestSeries,
    traced,
)
from sentiment.patches.internals import (
    APIMethod,
    BentoMLContainer,
    DataContainerRegistry,
    DefaultContainer,
    LazyType,
    ServiceAppFactory,
    Sqlite3Store,
    bentoml_server,
)

__all__ = [
    "BentoApis",
    "RequestSeries",
    "traced",
    "bind_apis_once",
    "client_gone",
    "http_address",
    "keep_tasks_for",
    "model_store_path",
    "one_connection",
    "opened_files",
    "swagger_assets",
    "task_id_of",
    "task_store",
    "wrap_asgi_app",
]


def wrap_asgi_app(service: Any, wrap: Callable[[Any, Any], Any]) -> None:
    """Make ``service``'s ASGI app (each worker's) ``wrap(app, factory)``, outermost.

    BentoML adds a service's middlewares inside its own (metrics, tracing,
    timeout); a layer that must run before them wraps the app the worker asks
    the service for with ``to_asgi``. ``factory`` is the ``ServiceAppFactory``
    that built the app (``Service.to_asgi`` does the same two steps, but drops
    it): its APIs are what :class:`BentoApis` calls. Idempotent: a second
    call keeps the first.
    """
    service_class = type(service)
    build = service_class.to_asgi
    if getattr(build, "wrapped_by_sentiment", False):
        return

    def to_asgi(self: Any, is_main: bool = True) -> Any:
        if self is not service:
            return build(self, is_main)
        self.inject_config()  # what Service.to_asgi does, keeping the factory
        factory = ServiceAppFactory(self, is_main=is_main)
        return wrap(factory(), factory)

    to_asgi.wrapped_by_sentiment = True  # type: ignore[attr-defined]
    to_asgi.__wrapped__ = build  # type: ignore[attr-defined]
    service_class.to_asgi = to_asgi


def keep_tasks_for(retention_s: float) -> None:
    """BentoML deletes finished tasks older than this when one finishes (24 h)."""
    Sqlite3Store.RESULT_RETENTION = int(retention_s)


def task_store() -> Path:
    """BentoML's task database (it holds each job's upload and result)."""
    return Path(BentoMLContainer.result_store_file.get())


def model_store_path() -> Path:
    """The model store in use (a bento's own when serving a bento)."""
    return Path(BentoMLContainer.model_store.get()._path)


def http_address(argv: list[str] | None = None) -> tuple[str, int] | None:
    """The host and port this BentoML worker's HTTP socket listens on.

    BentoML's arbiter hands each worker its listening socket as ``--fd N``
    (``_bentoml_impl.worker.service``) and keeps the port nowhere the worker
    can read. None outside a worker, or for a Unix socket.
    """
    argv = sys.argv if argv is None else argv
    try:
        fd = int(argv[argv.index("--fd") + 1])
        with socket.socket(fileno=os.dup(fd)) as sock:
            address = sock.getsockname()
    except (ValueError, IndexError, OSError):
        return None
    if not isinstance(address, tuple):
        return None
    return str(address[0]), int(address[1])


def task_id_of(ctx: bentoml.Context) -> str | None:
    """The ID BentoML gave the task a ``@bentoml.task`` call runs (None: direct)."""
    return getattr(ctx.request.state, "task_id", None)


def swagger_assets() -> Path:
    """The directory of the Swagger UI files BentoML serves under /static_content."""
    return Path(bentoml_server.__file__).parent / "static_content"


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
    for name, member in vars(type(instance)).items():
        if isinstance(member, APIMethod):
            instance.__dict__[name] = member.__get__(instance, type(instance))
    batch_types = DataContainerRegistry.CONTAINER_BATCH_TYPE_MAP
    batch_types.setdefault(LazyType.from_type(list), DefaultContainer)

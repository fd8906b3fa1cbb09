"""Every private name read from BentoML, imported here only, behind one version check.

BentoML 1.4 has no public API for what the edge and the batching need (the
worker's app factory and its batched call, the dispatcher, the request series,
the task and model stores); uvicorn none for a request's connection. The
modules that reach into them (this package, and the dispatcher subclass in
:mod:`sentiment.batching.dispatcher`) import BentoML's private names from here,
and this module imports none of them until the installed BentoML and uvicorn
are the versions every reach was written and tested for. On any other version
the service does not start: one line names both versions and the ``make``
target whose canaries (``tests/unit/test_patches*.py`` and
``tests/unit/batching/test_dispatcher.py``) say which reach broke. Never a
server half patched.
"""

from __future__ import annotations

from importlib.metadata import version

from sentiment.errors import StartupError

# The versions every reach was written for and its canaries pass on.
TESTED = {"bentoml": "1.4.40", "uvicorn": "0.54.0"}
CANARIES = "make canaries"


def version_problem(installed: dict[str, str] | None = None) -> str | None:
    """What is installed other than :data:`TESTED`, as one line; None when nothing."""
    found = installed or {name: version(name) for name in TESTED}
    wrong = [
        f"{name} {found[name]} (written for {wanted})"
        for name, wanted in TESTED.items()
        if found[name] != wanted
    ]
    if not wrong:
        return None
    return (
        "this service reaches into BentoML's and uvicorn's internals and is tested "
        f"on the versions it pins; installed: {', '.join(wrong)}. Install "
        f"requirements/serve.txt, or run `{CANARIES}` to see which reach broke"
    )


if problem := version_problem():
    raise StartupError(problem)

# Only now: on another version an import below may fail, or succeed and differ.
from _bentoml_impl.server import app as bentoml_app  # noqa: E402
from _bentoml_impl.server.app import ServiceAppFactory  # noqa: E402
from _bentoml_impl.tasks.result import Sqlite3Store  # noqa: E402
from _bentoml_sdk.method import APIMethod  # noqa: E402
from bentoml._internal import server as bentoml_server  # noqa: E402
from bentoml._internal.configuration.containers import BentoMLContainer  # noqa: E402
from bentoml._internal.marshal.dispatcher import CorkDispatcher, Job  # noqa: E402
from bentoml._internal.runner.container import (  # noqa: E402
    DataContainerRegistry,
    DefaultContainer,
)
from bentoml._internal.server.http.instruments import (  # noqa: E402
    RunnerTrafficMetricsMiddleware,
)
from bentoml._internal.types import LazyType  # noqa: E402

__all__ = [
    "APIMethod",
    "BentoMLContainer",
    "CorkDispatcher",
    "DataContainerRegistry",
    "DefaultContainer",
    "Job",
    "LazyType",
    "RunnerTrafficMetricsMiddleware",
    "ServiceAppFactory",
    "Sqlite3Store",
    "bentoml_app",
    "bentoml_server",
]

"""uvicorn's request cycle behind ``receive``: a client gone, the open connections.

Pinned with BentoML (:data:`sentiment.patches.internals.TESTED`);
``tests/unit/test_patches.py`` fails when uvicorn changes under either reach.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sentiment import leases


def client_gone(receive: Any) -> Callable[[], bool] | None:
    """Whether the client of the request ``receive`` belongs to has disconnected.

    uvicorn sets ``disconnected`` on the request's cycle when the connection is
    lost, whether or not anyone awaits ``receive``; reading the flag costs
    nothing, where a task awaiting ``http.disconnect`` per request would cost
    a task switch each. None when ``receive`` is not uvicorn's (tests, others).
    """
    cycle = getattr(receive, "__self__", None)
    if cycle is None or not isinstance(getattr(cycle, "disconnected", None), bool):
        return None
    return functools.partial(getattr, cycle, "disconnected")


# uvicorn's set of this worker's open connections, once a request has shown it.
_CONNECTIONS: list[set[Any]] = []


def watch_connections(gone: Callable[[], bool] | None) -> None:
    """Keep the worker's uvicorn connection set, found behind a lease's ``gone``.

    :func:`client_gone` reads the flag on uvicorn's request cycle; the cycle
    holds its protocol's ``on_response_complete``, and the protocol the server's
    set of open connections (what uvicorn's own ``limit_concurrency`` counts).
    Found from the edge's ``receive``: BentoML's middlewares wrap it further in.
    Nothing when ``gone`` is not :func:`client_gone`'s (tests, other servers).
    """
    cycle = gone.args[0] if isinstance(gone, functools.partial) and gone.args else None
    protocol = getattr(getattr(cycle, "on_response", None), "__self__", None)
    connections = getattr(protocol, "connections", None)
    if isinstance(connections, set):
        _CONNECTIONS.append(connections)


def one_connection(lease: leases.Lease) -> bool:
    """Whether the worker has one open connection, the lease's (False: not known).

    False for a request whose ``gone`` is not uvicorn's (a gRPC call's): the
    HTTP connections say nothing of how many gRPC calls are waiting.
    """
    if lease.gone is not None and type(lease.gone) is not functools.partial:
        return False
    if not _CONNECTIONS:
        watch_connections(lease.gone)
    return bool(_CONNECTIONS) and len(_CONNECTIONS[0]) <= 1

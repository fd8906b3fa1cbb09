"""A real HAProxy (Debian's) in front of several `bentoml serve` replicas, on loopback.

Configured like ``deploy/kubernetes.yaml``: the Service's round-robin over the online
replicas, the Ingress rule that sends ``/classify_file*`` to the jobs replica, and the
readiness probe (``/readyz``) deciding which replicas get traffic. With gRPC
addresses, a second frontend speaks cleartext HTTP/2 (``proto h2``) to clients and
to the replicas' gRPC ports, balancing each call (an HTTP/2 stream), not each
connection.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devtools.servers import free_port, ready_process

BALANCER_READY_S = 30.0

JOBS_PREFIX = "/classify_file"


def haproxy_config(
    port: int,
    online: list[str],
    jobs: str,
    grpc_port: int = 0,
    grpc: list[str] | None = None,
) -> str:
    """The configuration text for a balancer on 127.0.0.1:``port``.

    Args:
        port: where the balancer listens.
        online: ``host:port`` of each online replica (round-robin).
        jobs: ``host:port`` of the jobs replica.
        grpc_port: where the balancer listens for gRPC (0: no gRPC).
        grpc: ``host:port`` of each online replica's gRPC side, in ``online``'s
            order (checked on its HTTP ``/readyz``, over HTTP/1.1).
    """
    servers = "\n".join(
        f"    server online{i} {address} check inter 500ms fall 1 rise 2"
        for i, address in enumerate(online)
    )
    grpc_servers = "\n".join(
        f"    server grpc{i} {address} proto h2 check check-proto h1 port "
        f"{http.rsplit(':', 1)[1]} inter 500ms fall 1 rise 2"
        for i, (address, http) in enumerate(zip(grpc or [], online, strict=True))
    )
    grpc_section = (
        f"""
frontend grpc
    bind 127.0.0.1:{grpc_port} proto h2
    default_backend grpc_online

backend grpc_online
    balance roundrobin
    option httpchk GET /readyz
{grpc_servers}
"""
        if grpc_port
        else ""
    )
    # retry-on: a replica shutting down refuses new connections (conn-failure) and
    # closes idle kept-alive ones (empty-response, before any byte of an answer);
    # redispatch sends the retry to another replica. Both are safe here: /classify
    # has no side effect, and a job submit that failed this way never reached a
    # worker.
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    retries 3
    retry-on conn-failure empty-response
    option redispatch 1

frontend service
    bind 127.0.0.1:{port}
    # The Ingress rule's pathType Prefix: the path itself or below it (ORed lines).
    acl jobs path {JOBS_PREFIX}
    acl jobs path_beg {JOBS_PREFIX}/
    use_backend jobs if jobs
    default_backend online

backend online
    balance roundrobin
    option httpchk GET /readyz
{servers}

backend jobs
    option httpchk GET /readyz
    server jobs0 {jobs} check inter 500ms fall 1 rise 2
{grpc_section}"""


def haproxy_binary() -> str | None:
    """Debian's haproxy on PATH, or None."""
    return shutil.which("haproxy")


@contextmanager
def haproxy(
    online: list[str],
    jobs: str,
    work: Path,
    grpc: list[str] | None = None,
    grpc_port: int = 0,
) -> Iterator[str]:
    """Run HAProxy in the foreground on a free port; yield its URL; stop it by PID.

    Args:
        online: ``http://host:port`` of each online replica.
        jobs: ``http://host:port`` of the jobs replica.
        work: where its configuration and log go.
        grpc: ``host:port`` of each online replica's gRPC side (None: no gRPC).
        grpc_port: where the balancer takes gRPC (with ``grpc``).

    Raises:
        RuntimeError: haproxy is missing, rejected the configuration or exited.
    """
    binary = haproxy_binary()
    if binary is None:
        raise RuntimeError("haproxy not found (Debian: apt-get install haproxy)")
    port = free_port()
    config = work / "haproxy.cfg"
    config.write_text(
        haproxy_config(
            port,
            [url.removeprefix("http://") for url in online],
            jobs.removeprefix("http://"),
            grpc_port if grpc else 0,
            grpc,
        )
    )
    checked = subprocess.run(  # noqa: S603 - Debian's haproxy, our config
        [binary, "-c", "-f", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode != 0:
        raise RuntimeError(
            f"haproxy rejected {config}:\n{checked.stdout}{checked.stderr}"
        )
    url = f"http://127.0.0.1:{port}"
    command = [binary, "-db", "-f", str(config)]
    log = work / "haproxy.log"
    with ready_process(command, url, log, dict(os.environ), BALANCER_READY_S):
        yield url

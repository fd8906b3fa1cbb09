"""Start a real `bentoml serve` on 127.0.0.1, wait until ready, stop its group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parents[1]
BIN_DIR = Path(sys.executable).parent
READY_TIMEOUT_S = 180.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(
    url: str, alive: Callable[[], bool], logs: Callable[[], str], timeout: float
) -> None:
    """Poll ``{url}/readyz`` until it answers 200.

    Args:
        url: the server's base URL.
        alive: says whether the server process is still running.
        logs: returns the server's recent log, for the error message.
        timeout: seconds to wait.

    Raises:
        RuntimeError: the server died first.
        TimeoutError: it never became ready.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"server exited before ready:\n{logs()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"server not ready after {timeout:.0f}s:\n{logs()}")


def tail(log: Path, lines: int = 40) -> str:
    """The last lines of a log file."""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def stop(process: subprocess.Popen[bytes], grace: float = 30.0) -> int:
    """SIGTERM the process group, then SIGKILL it if it outlives ``grace``."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def serve_command(target: str, port: int) -> list[str]:
    """The ``bentoml serve`` command line for ``target`` on 127.0.0.1:``port``."""
    return [
        str(BIN_DIR / "bentoml"),
        "serve",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def isolated_home(parent: Path) -> Path:
    """A BENTOML_HOME sharing the session's models and bentos, nothing else.

    Every `bentoml serve` wipes ``$BENTOML_HOME/prometheus_multiproc_dir`` at
    start, so two servers on one home clobber each other's /metrics.
    """
    shared = Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"))
    home = Path(tempfile.mkdtemp(prefix="home-", dir=parent))
    for name in ("models", "bentos"):
        (shared / name).mkdir(parents=True, exist_ok=True)
        (home / name).symlink_to(shared / name)
    return home


@contextmanager
def ready_process(
    command: list[str],
    url: str,
    log: Path,
    env: dict[str, str],
    timeout: float = READY_TIMEOUT_S,
    cwd: Path = PROJECT_DIR,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait for ``{url}/readyz``, yield it, then stop it.

    Args:
        command: the server's command line.
        url: its base URL.
        log: where its stdout and stderr go.
        env: its whole environment.
        timeout: seconds to wait for ``/readyz``.
        cwd: the directory it runs in (another source tree, for A/B benchmarks).
    """
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  # nosec B603
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(
            url,
            alive=lambda: process.poll() is None,
            logs=lambda: tail(log),
            timeout=timeout,
        )
        yield process
    finally:
        stop(process)


@contextmanager
def bentoml_process(
    target: str,
    log: Path,
    env: dict[str, str] | None = None,
    port: int | None = None,
    timeout: float = READY_TIMEOUT_S,
    cwd: Path = PROJECT_DIR,
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Run ``bentoml serve <target>`` on 127.0.0.1; yield the process and its URL.

    Args:
        target: a ``module:Service`` string or a bento tag.
        log: where the server's stdout and stderr go; its directory holds the
            server's own ``BENTOML_HOME`` (:func:`isolated_home`).
        env: extra environment variables for the server (over the home, too).
        port: the port to use (default: a free one).
        timeout: seconds to wait for ``/readyz``.
        cwd: the directory it runs in (another source tree, for A/B benchmarks).
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    home = str(isolated_home(log.parent))
    # gRPC only when asked for, on a port of its own: two test servers on
    # neighbouring ports must not share one gRPC port through SO_REUSEPORT. Only
    # for this tree: an older one (bench.versus) refuses a setting it lacks.
    quiet = {"SENTIMENT_GRPC_PORT": "0"} if cwd == PROJECT_DIR else {}
    server_env = {**quiet, **os.environ, "BENTOML_HOME": home, **(env or {})}
    command = serve_command(target, port)
    with ready_process(command, url, log, server_env, timeout, cwd) as process:
        yield process, url


@contextmanager
def bentoml_serve(
    target: str,
    log: Path,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[str]:
    """:func:`bentoml_process` from this tree; yield only the base URL."""
    with bentoml_process(target, log, env, port) as (_, url):
        yield url

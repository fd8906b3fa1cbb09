"""The floods of ``bench.shapes``, shorter, against a real `bentoml serve`.

One server with tenants a and b at 3:1 and the default limits; wrk for the floods:
a deadline on every request of a 1,024-connection flood must not turn it into a
refusal storm, and 3:1 must hold at 256 + 256 connections.

And the weights across workers. The kernel, not the server, decides which worker a
new connection lands on; wrk once left 246 of tenant a's 255 connections on one
worker and 160 of b's 251 on the other, and weights 3:1 were served 0.83:1. One
test places the connections unevenly on purpose (it opens connections and keeps
those that landed where wanted): a's spread over both workers, all of b's on one.
The worker holding both tenants would split its slots 3:1 and the other serve
only a (about 6-7:1 for the server, measured with the exchange turned off); the
workers together must give the server's split the weights.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import shapes
from bench.overload import raise_file_limit
from bench.shapes import DEADLINE_MS, FLOOD_CONNECTIONS, KEYS, auth, point
from devtools.corpus import corpus_reviews
from devtools.placement import client_port, holders
from devtools.servers import PROJECT_DIR
from devtools.wrk import run_wrk, write_bodies

pytestmark = pytest.mark.e2e
WRK_S = 5  # seconds per wrk point
SPLIT_S = 10  # the split point: the 10 s, so one placement swing averages out
# Each tenant's connections on (the first worker, the second). A spread the workers
# can put right by weighing alone: with a on one worker and b on the other, only
# connection recycling could, by moving connections.
SPREAD = {"a": (80, 80), "b": (0, 80)}
WARM_S, MEASURED_S = 2.0, 5.5
PLACING_TRIES = 200


@pytest.fixture(scope="module")
def weighted_server(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, str]]:
    """``bench.shapes``' server: tenants a and b at 3:1, the defaults otherwise."""
    raise_file_limit()
    work = tmp_path_factory.mktemp("shapes")
    with shapes.weighted_server(PROJECT_DIR, work, "shapes") as served:
        yield served


@pytest.fixture(scope="module")
def single_bodies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """wrk's bodies: one review each."""
    path = tmp_path_factory.mktemp("bodies") / "single.jsonl"
    return write_bodies(list(corpus_reviews()), 1, path)


@pytest.fixture(scope="module")
def capacity(weighted_server: tuple[int, str], single_bodies: Path) -> float:
    """a alone at 64 connections: 200s a second."""
    pid, url = weighted_server
    run_wrk(url, single_bodies, 16, 2, headers=auth("a"))  # warm-up
    alone = point(url, pid, single_bodies, {"a": 64}, WRK_S)
    rate: float = alone["a"]["req_per_s"]
    return rate


def place(
    pid: int, port: int, spread: dict[str, tuple[int, int]]
) -> tuple[dict[str, list[socket.socket]], list[int]]:
    """Open connections until each tenant has its count on each worker.

    Returns each tenant's connections and the two workers' PIDs in ``spread``'s
    order (the first worker seen is the first).
    """
    kept: dict[str, list[socket.socket]] = {t: [] for t in spread}
    on: dict[tuple[str, int], int] = Counter()
    workers: list[int] = []
    for _ in range(PLACING_TRIES):
        if all(on[t, w] == n for t, ns in spread.items() for w, n in enumerate(ns)):
            return kept, workers
        trial = [socket.create_connection(("127.0.0.1", port)) for _ in range(32)]
        time.sleep(0.05)  # the workers accept
        held = holders(pid, port)
        for connection in trial:
            worker = held.get(client_port(connection))
            if worker is not None and worker not in workers:
                workers.append(worker)
            index = workers.index(worker) if worker in workers else None
            wanted = next(
                (
                    t
                    for t, ns in spread.items()
                    if index is not None and index < 2 and on[t, index] < ns[index]
                ),
                None,
            )
            if wanted is None or index is None:
                connection.close()
                continue
            on[wanted, index] += 1
            kept[wanted].append(connection)
    raise AssertionError(f"could not place the connections: {dict(on)}")


async def closed_loop(
    connection: socket.socket, tenant: str, port: int, until: float
) -> int:
    """Requests on one connection, each as soon as the last is answered; 200s.

    Asked to close (the server recycles connections), it connects again, wherever
    the kernel puts the new connection.
    """
    body = b'{"texts": ["a fine, moving film"]}'
    request = (
        b"POST /classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: Bearer {KEYS[tenant]}\r\n".encode()
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    reader, writer = await asyncio.open_connection(sock=connection)
    ok = 0
    try:
        while time.monotonic() < until:
            writer.write(request)
            head = (await reader.readuntil(b"\r\n\r\n")).lower()
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            await reader.readexactly(length)
            ok += head.startswith(b"http/1.1 200")
            if b"connection: close" in head:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()
    return ok


async def load(url: str, kept: dict[str, list[socket.socket]]) -> dict[str, float]:
    """Every connection in a closed loop; reviews served by tenant after the warm-up."""
    until = time.monotonic() + WARM_S + MEASURED_S
    port = int(url.rsplit(":", 1)[1])
    loops = [
        asyncio.create_task(closed_loop(connection, tenant, port, until))
        for tenant, connections in kept.items()
        for connection in connections
    ]
    served = await asyncio.to_thread(
        shapes.reviews_between, url, WARM_S, MEASURED_S - 0.5
    )
    await asyncio.gather(*loops)
    return served


def test_weights_hold_when_the_connections_start_spread_unevenly_over_workers(
    weighted_server: tuple[int, str],
) -> None:
    pid, url = weighted_server
    port = int(url.rsplit(":", 1)[1])
    kept, workers = place(pid, port, SPREAD)
    served = asyncio.run(load(url, kept))
    held = holders(pid, port)
    print(f"served {served}, workers {workers}, connections held {len(held)}")
    assert served["b"] > 0
    # Without the exchange 5.9-6.9:1; with it 2.95-3.07:1.
    assert served["a"] / served["b"] == pytest.approx(3.0, rel=0.1)


def test_a_deadline_on_every_request_does_not_turn_a_flood_into_a_storm(
    weighted_server: tuple[int, str], single_bodies: Path, capacity: float
) -> None:
    pid, url = weighted_server
    deadline = {"X-Request-Timeout-Ms": str(DEADLINE_MS)}
    flood = point(url, pid, single_bodies, {"a": FLOOD_CONNECTIONS}, WRK_S, deadline)
    a = flood["a"]
    print(f"capacity {capacity}/s; deadline flood {a}")
    assert set(a["statuses"]) <= {200, 504} and a["socket_errors"] == 0
    # Answered at once, the 504s fed a storm: 0.008x. Held to the deadline, 11 bench
    # runs gave 0.48-0.97x (median 0.82x); the bar leaves room for a slow moment.
    assert a["req_per_s"] >= 0.25 * capacity
    assert a["ok_p99_ms"] <= 300, "the 200s come within the deadline's reach"


def test_weights_hold_at_256_and_256_connections(
    weighted_server: tuple[int, str], single_bodies: Path
) -> None:
    pid, url = weighted_server
    time.sleep(shapes.PAUSE_S)  # the last test's connections close, as in the bench
    split = point(url, pid, single_bodies, {"a": 256, "b": 256}, SPLIT_S)
    reviews = split["reviews"]
    print(f"reviews {reviews}, workers {split['workers']}")
    assert reviews["a"] / reviews["b"] == pytest.approx(3.0, rel=0.1)

"""Weights across workers against a real `bentoml serve`: the server's split.

The kernel, not the server, decides which worker a new connection lands on; wrk
once left 246 of tenant a's 255 connections on one worker and 160 of b's 251 on the
other, and weights 3:1 were served 0.83:1. This test places the connections that
way on purpose (it opens connections and keeps those that landed where wanted) and
loads them in closed loops: the split must still follow the weights.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from devtools.placement import client_port, holders
from devtools.prometheus import sample_sum
from devtools.servers import bentoml_process

pytestmark = pytest.mark.e2e
KEYS = {"a": "key-of-tenant-a", "b": "key-of-tenant-b"}
WEIGHTS = {"a": 3, "b": 1}
# Each tenant's connections on (the first worker, the second), as wrk spread them.
SPREAD = {"a": (120, 4), "b": (44, 80)}
WARM_S, MEASURED_S = 2.0, 4.0
PLACING_TRIES = 200


@pytest.fixture(scope="module")
def weighted_server(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[int, str]]:
    """Tenants a and b at 3:1, the defaults otherwise."""
    work = tmp_path_factory.mktemp("shares")
    tenants = {t: {"key": KEYS[t], "weight": w} for t, w in WEIGHTS.items()}
    (work / "t.json").write_text(json.dumps({"tenants": tenants}))
    env = {"SENTIMENT_TENANTS_FILE": str(work / "t.json")}
    log = work / "serve.log"
    with bentoml_process("service:SentimentClassifier", log, env) as (process, url):
        yield process.pid, url


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


def reviews(url: str) -> dict[str, float]:
    metrics = httpx.get(f"{url}/metrics").text
    return {
        t: sample_sum(metrics, "sentiment_tenant_reviews_total", tenant=t) for t in KEYS
    }


async def load(url: str, kept: dict[str, list[socket.socket]]) -> dict[str, float]:
    """Every connection in a closed loop; reviews served by tenant after the warm-up."""
    until = time.monotonic() + WARM_S + MEASURED_S
    port = int(url.rsplit(":", 1)[1])
    loops = [
        asyncio.create_task(closed_loop(connection, tenant, port, until))
        for tenant, connections in kept.items()
        for connection in connections
    ]
    await asyncio.sleep(WARM_S)
    before = await asyncio.to_thread(reviews, url)
    await asyncio.sleep(MEASURED_S - 0.5)
    after = await asyncio.to_thread(reviews, url)
    await asyncio.gather(*loops)
    return {t: after[t] - before[t] for t in KEYS}


def test_weights_hold_when_each_tenants_connections_sit_on_one_worker(
    weighted_server: tuple[int, str],
) -> None:
    pid, url = weighted_server
    port = int(url.rsplit(":", 1)[1])
    kept, workers = place(pid, port, SPREAD)
    served = asyncio.run(load(url, kept))
    held = holders(pid, port)
    print(f"served {served}, workers {workers}, connections held {len(held)}")
    assert served["b"] > 0
    assert served["a"] / served["b"] == pytest.approx(3.0, rel=0.15)

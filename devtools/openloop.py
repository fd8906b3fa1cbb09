"""An open-loop load generator: requests arrive at a fixed rate, answered or not.

wrk and Locust are closed loops: a client sends its next request when the last one
is answered, so a slow server slows the load down and overload never shows. Here
request ``i`` is due at ``start + i / rate`` whatever happened before; it goes out
on an idle keep-alive connection, or waits for one (a new one is opened while
fewer than ``max_connections`` are open). Latency runs from the time it was due,
so time spent waiting for a connection counts (no coordinated omission).

With ``preconnect``, the whole pool is opened before the schedule starts. With
``max_wait_s``, a request that has waited that long for a connection is not
sent and counted (``skipped``): the pool stays bounded and the generator keeps
its schedule when the server falls behind, instead of opening connections by the
thousand (measured at 4x capacity unbounded: 16,507 opened, 3,935 socket errors,
answers seconds late because of the generator's own backlog).

Raw HTTP/1.1 on asyncio protocols, one process, to keep its own CPU small; only
ever aimed at 127.0.0.1.

Usage: ``python -m devtools.openloop URL BODY_FILE --rate 4800 --seconds 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

PRECONNECT_WAVE = 128  # connections opened at once by ``preconnect``


@dataclass
class OpenLoopResult:
    """What one open-loop run saw."""

    rate: float
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ok: list[float] = field(default_factory=list)
    latencies_all: list[float] = field(default_factory=list)
    # From when it was written to its socket: the server's part alone, without the
    # time the request waited for a connection (the generator's own lag).
    sent_latencies_ok: list[float] = field(default_factory=list)
    socket_errors: int = 0
    abandoned: int = 0  # given up on by the client (``abandon_after_s``)
    not_sent: int = 0
    skipped: int = 0  # waited ``max_wait_s`` for a connection: never sent
    unanswered: int = 0
    connections: int = 0

    def summary(self) -> dict[str, Any]:
        """Goodput, refusals and latency percentiles (ms)."""
        ok = self.statuses.get(200, 0)
        sent = (
            sum(self.statuses.values())
            + self.socket_errors
            + self.unanswered
            + self.abandoned
        )
        return {
            "offered_per_s": self.rate,
            "goodput_per_s": round(ok / self.seconds, 1),
            "sent": sent,
            "ok": ok,
            "refused": sum(v for k, v in self.statuses.items() if k in (429, 503)),
            "statuses": dict(self.statuses),
            "socket_errors": self.socket_errors,
            "abandoned": self.abandoned,
            "unanswered": self.unanswered,
            "not_sent": self.not_sent,
            "skipped": self.skipped,
            "connections": self.connections,
            "p50_ok_ms": percentile(self.latencies_ok, 50),
            "p99_ok_ms": percentile(self.latencies_ok, 99),
            "max_ok_ms": percentile(self.latencies_ok, 100),
            "p99_ok_from_send_ms": percentile(self.sent_latencies_ok, 99),
            "max_ok_from_send_ms": percentile(self.sent_latencies_ok, 100),
            "p99_all_ms": percentile(self.latencies_all, 99),
        }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile of seconds, in ms (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))
    return round(ordered[index] * 1000, 1)


def request_bytes(
    host: str, path: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    """One POST with a JSON body, keep-alive, and any extra headers."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{extra}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and keep-alive of a response head."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep = False
    return status, length, keep


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, load: OpenLoop) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.due = 0.0
        self.sent_at = 0.0
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Ready: take the next request waiting for a connection, if any."""
        self.transport = transport  # type: ignore[assignment]
        self.load.ready(self)

    def send(self, due: float, request: bytes) -> None:
        """Send one request that was due at ``due``."""
        assert self.transport is not None
        self.due, self.busy, self.buffer = due, True, b""
        self.sent_at = self.load.loop.time()
        self.transport.write(request)
        if self.load.abandon_after_s is not None:
            self.load.loop.call_later(self.load.abandon_after_s, self.abandon, due)

    def abandon(self, due: float) -> None:
        """The client gives up on an unanswered request: it closes the connection."""
        if self.busy and self.due == due and self.transport is not None:
            self.busy = False
            self.load.result.abandoned += 1
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        """Collect the response; when whole, record it and free the connection."""
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        status, length, keep = parse_head(self.buffer[:end])
        if len(self.buffer) < end + 4 + length:
            return
        self.busy = False
        self.load.answered(self, status, keep)

    def connection_lost(self, exc: Exception | None) -> None:
        """Closed: a request still on it is a socket error."""
        self.load.lost(self)


class OpenLoop:
    """Sends ``rate`` requests a second for ``seconds`` to one URL."""

    def __init__(
        self,
        url: str,
        bodies: list[bytes],
        rate: float,
        seconds: float,
        max_connections: int = 16384,
        timeout_s: float = 10.0,
        headers: dict[str, str] | None = None,
        abandon_after_s: float | None = None,
        max_wait_s: float | None = None,
        preconnect: bool = False,
    ) -> None:
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost"):
            raise ValueError("open-loop load goes to localhost only")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.requests = [
            request_bytes(parts.netloc, parts.path, b, headers) for b in bodies
        ]
        self.abandon_after_s = abandon_after_s
        self.max_wait_s = max_wait_s
        self.preconnect = preconnect
        self.rate = rate
        self.seconds = seconds
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.idle: list[Connection] = []
        self.waiting: deque[tuple[float, bytes]] = deque()  # due, no connection yet
        self.connections: set[Connection] = set()
        self.opening = 0
        self.result = OpenLoopResult(rate, seconds)
        self.loop: asyncio.AbstractEventLoop = asyncio.new_event_loop()  # set by run

    async def run(self) -> OpenLoopResult:
        """Send on schedule, then wait for the stragglers (up to the timeout)."""
        self.loop = asyncio.get_running_loop()
        if self.preconnect:
            await self.open_pool()
        start = self.loop.time()
        total = int(self.rate * self.seconds)
        for i in range(total):
            due = start + i / self.rate
            delay = due - self.loop.time()
            if delay > 0.001:
                await asyncio.sleep(delay)
            self.submit(due, self.requests[i % len(self.requests)])
        deadline = self.loop.time() + self.timeout_s
        while self.in_flight() and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        self.result.unanswered += sum(c.busy for c in self.connections)
        self.result.not_sent += len(self.waiting)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
        return self.result

    async def open_pool(self) -> None:
        """Open ``max_connections`` before the schedule starts, a wave at a time.

        Opened on demand under overload, connections come faster than the server
        accepts them; past its listen backlog a client's handshake completes but
        the server drops it, and the request's first bytes are retransmitted with
        backoff (measured: answers 6.9 s after the send at 4x capacity).
        """
        while len(self.connections) < self.max_connections:
            wave = min(PRECONNECT_WAVE, self.max_connections - len(self.connections))
            self.opening += wave
            self.result.connections += wave
            await asyncio.gather(*(self.connect() for _ in range(wave)))
            if self.result.socket_errors:
                break

    def in_flight(self) -> bool:
        """Whether a request is still waiting for a connection or an answer."""
        return bool(self.waiting) or any(c.busy for c in self.connections)

    def submit(self, due: float, request: bytes) -> None:
        """A request is due: send it on an idle connection, or wait for one."""
        if self.idle:
            self.idle.pop().send(due, request)
            return
        self.skip_stale(due)
        self.waiting.append((due, request))
        if len(self.connections) + self.opening < self.max_connections:
            self.opening += 1
            self.result.connections += 1
            self.loop.create_task(self.connect())

    def skip_stale(self, now: float) -> None:
        """Drop the waiting requests due more than ``max_wait_s`` before ``now``."""
        if self.max_wait_s is None:
            return
        while self.waiting and self.waiting[0][0] < now - self.max_wait_s:
            self.waiting.popleft()
            self.result.skipped += 1

    async def connect(self) -> None:
        """Open one more connection."""
        try:
            await self.loop.create_connection(
                lambda: Connection(self), self.host, self.port
            )
        except OSError:
            self.result.socket_errors += 1
        finally:
            self.opening -= 1

    def ready(self, connection: Connection) -> None:
        """A connection is free: it takes the oldest waiting request."""
        self.connections.add(connection)
        self.skip_stale(self.loop.time())
        if self.waiting:
            connection.send(*self.waiting.popleft())
        else:
            self.idle.append(connection)

    def answered(self, connection: Connection, status: int, keep: bool) -> None:
        """Record one answer; reuse or close the connection."""
        elapsed = self.loop.time() - connection.due
        self.result.statuses[status] += 1
        self.result.latencies_all.append(elapsed)
        if status == 200:
            self.result.latencies_ok.append(elapsed)
            self.result.sent_latencies_ok.append(self.loop.time() - connection.sent_at)
        if keep:
            self.ready(connection)
        elif connection.transport is not None:
            connection.transport.close()

    def lost(self, connection: Connection) -> None:
        """A connection closed; replace it when requests wait."""
        self.connections.discard(connection)
        if connection in self.idle:
            self.idle.remove(connection)
        if connection.busy:
            connection.busy = False
            self.result.socket_errors += 1
        if self.waiting and len(self.connections) + self.opening < self.max_connections:
            self.opening += 1
            self.result.connections += 1
            self.loop.create_task(self.connect())


def run_open_loop(
    url: str, bodies: list[bytes], rate: float, seconds: float, **options: Any
) -> dict[str, Any]:
    """Run one open-loop load (uvloop when installed) and summarise it."""
    import uvloop  # comes with BentoML

    result = uvloop.run(OpenLoop(url, bodies, rate, seconds, **options).run())
    return result.summary()


def run_open_loops(loads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Several open-loop loads at once, in one event loop (e.g. one per tenant).

    Each load is :class:`OpenLoop`'s keyword arguments (``url``, ``bodies``,
    ``rate``, ``seconds``, and ``headers``, ``abandon_after_s``, ...).
    """
    import uvloop

    async def together() -> list[OpenLoopResult]:
        return list(await asyncio.gather(*(OpenLoop(**load).run() for load in loads)))

    # The generator's own CPU (this process, every thread): on a small machine it
    # takes cores from the server it loads, so a reading at 2x capacity must say
    # how much.
    cpu, wall = time.process_time(), time.monotonic()
    results = uvloop.run(together())
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    usage = {"generator_cpu_s": round(cpu, 2), "generator_cores": round(cpu / wall, 2)}
    return [result.summary() | usage for result in results]


def main(argv: list[str] | None = None) -> int:
    """Command line: print one JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="e.g. http://127.0.0.1:3000/classify")
    parser.add_argument("bodies", help="file with one JSON body per line")
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--max-connections", type=int, default=16384)
    parser.add_argument(
        "--max-wait-s", type=float, help="skip a request that waited this long"
    )
    args = parser.parse_args(argv)
    with open(args.bodies, "rb") as handle:
        bodies = [line.rstrip(b"\n") for line in handle if line.strip()]
    summary = run_open_loop(
        args.url,
        bodies,
        args.rate,
        args.seconds,
        max_connections=args.max_connections,
        max_wait_s=args.max_wait_s,
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

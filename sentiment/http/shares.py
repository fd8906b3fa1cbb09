"""Tenants' shares across a server's workers, not only within each.

BentoML's workers share one listening socket, and a burst of new connections lands
on whichever worker wakes first, so one worker may hold 246 of tenant ``a``'s 255
connections while the other holds 160 of ``b``'s 251. Each worker's deficit round
robin (:mod:`sentiment.http.overload`) splits its own slots by weight, so the
server's split follows where the connections happen to be: weights 3:1 served
0.83:1 in such a run of ``bench.shapes`` (docs/overload.md, "Across workers").

So every :data:`PERIOD_S`, while requests come, each worker writes how many
requests of each tenant it admitted and which tenants had requests waiting to a
small file in the directory its workers share (BentoML's
``PROMETHEUS_MULTIPROC_DIR``), reads the others', and scales the weight of each
tenant with waiting requests by how far the server's admissions of it are from its
weight's share (:func:`corrections`, pure): a worker favours the tenant the server
as a whole is short-changing. With one worker, fewer than two tenants waiting, or a
directory it cannot use, every factor is 1 and the weights are the tenants file's.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from sentiment.telemetry.logs import SERVICE_LOGGER

logger = logging.getLogger(SERVICE_LOGGER)
PERIOD_S = 0.25
STALE_S = 3.0  # a file older than this is a worker that has gone
# The part of the server's gap the workers with two tenants waiting close together
# each period: lower gains tracked connections moving between workers worse
# (bench/results/decisions.md).
GAIN = 1.0
FLOOR = 0.02  # the least a waiting tenant asks, of a sharing worker's admissions
BOUND = 16.0  # a factor stays within [1/BOUND, BOUND]
PREFIX = "tenant-shares."


def corrections(
    weights: Sequence[float],
    admitted: Sequence[float],
    local: Sequence[float],
    waiting: Sequence[bool],
    sharing: int,
) -> list[float]:
    """Each tenant's weight factor in this worker for the next period.

    Among the tenants with requests waiting, each is due the server's admissions
    times its weight's share. This worker asks for what it admitted of each, plus
    its part (one in ``sharing``) of ``GAIN`` times the server's shortfall or
    excess, and weighs its lanes in those proportions: together the workers with
    tenants to choose between close that part of the gap each period, whichever
    of them holds the connections (a worker with few connections may have nobody
    waiting, and cannot help). Factor 1: the tenants file's weight (fewer than two
    tenants waiting, no worker with two of them waiting, a tenant not waiting).

    Args:
        weights: the tenants' weights.
        admitted: the server's admissions of each tenant during the last period.
        local: this worker's.
        waiting: whether each tenant had requests waiting in any worker.
        sharing: how many workers had two or more tenants waiting.
    """
    factors = [1.0] * len(weights)
    backlogged = [i for i, waits in enumerate(waiting) if waits]
    total = sum(admitted[i] for i in backlogged)
    if sharing < 1 or len(backlogged) < 2 or not total:
        return factors
    weight = sum(weights[i] for i in backlogged)
    mine = sum(local[i] for i in backlogged)
    floor = FLOOR * max(1.0, mine, total / sharing)
    wanted = {
        i: max(
            floor,
            local[i] + GAIN * (total * weights[i] / weight - admitted[i]) / sharing,
        )
        for i in backlogged
    }
    scale = weight / sum(wanted.values())
    for i in backlogged:
        factors[i] = min(BOUND, max(1 / BOUND, wanted[i] * scale / weights[i]))
    return factors


class Period(NamedTuple):
    """The server's last period, from its workers' files (:meth:`WorkerShares.read`)."""

    admitted: list[float]  # each tenant's admissions, summed over the workers
    waiting: list[bool]  # whether each tenant had requests waiting in any worker
    workers: int  # live workers (files seen twice)
    sharing: int  # workers that admitted since with two or more tenants waiting


class WorkerShares:
    """This worker's side of the exchange: write its counts, read the others'.

    Files are named after the process that started the workers too, so two servers
    sharing a directory do not read each other's.

    Args:
        directory: the directory the server's workers share.
        tenants: how many tenants there are.
        pid: this worker's process ID (tests pass their own).
        server: the PID of the process that started the workers (tests: their own).
        clock: wall-clock seconds, comparable between processes.
    """

    def __init__(
        self,
        directory: Path,
        tenants: int,
        pid: int | None = None,
        server: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.pid = os.getpid() if pid is None else pid
        self.server = os.getppid() if server is None else server
        self.pattern = f"{PREFIX}{self.server}.*.json"
        self.path = directory / f"{PREFIX}{self.server}.{self.pid}.json"
        self.clock = clock
        self.seen: dict[str, list[int]] = {}  # each live file's last admitted counts
        self.mine = [0] * tenants  # this worker's, when it last wrote

    @classmethod
    def of_server(cls, tenants: int) -> WorkerShares | None:
        """The exchange of a worker under ``bentoml serve`` with tenants, else None."""
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if tenants < 2 or not directory or not os.path.isdir(directory):
            return None
        return cls(Path(directory), tenants)

    def exchange(
        self, weights: Sequence[float], admitted: Sequence[int], waiting: Sequence[bool]
    ) -> list[float]:
        """Write this worker's cumulative counts, read every live worker's; factors.

        Runs on a request's way through admission, so it never raises: a directory
        it cannot use leaves the tenants file's weights (anything else is logged).
        """
        now = self.clock()
        record = {"at": now, "admitted": list(admitted), "waiting": list(waiting)}
        temporary = self.path.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(record))
            os.replace(temporary, self.path)
            server = self.read(now, len(weights))
            local = [new - old for new, old in zip(admitted, self.mine, strict=True)]
            self.mine = list(admitted)
            if server.workers < 2:
                return [1.0] * len(weights)
            return corrections(
                weights, server.admitted, local, server.waiting, server.sharing
            )
        except Exception as error:  # noqa: BLE001 - never on a request's account
            if not isinstance(error, OSError):
                logger.exception("sharing tenants' admissions across workers failed")
            return [1.0] * len(weights)

    def read(self, now: float, tenants: int) -> Period:
        """Admissions since the last read, who waits, live and sharing workers.

        A worker counts once its file has been seen twice (a change is known); it
        shares when it admitted since and two or more tenants wait in it (an idle
        worker's last flags do not count).
        """
        period = [0.0] * tenants
        waits = [False] * tenants
        workers = sharing = 0
        seen: dict[str, list[int]] = {}
        for path in self.directory.glob(self.pattern):
            record = read_record(path, now, tenants)
            if record is None:
                continue
            counts, flags = record
            seen[path.name] = counts
            before = self.seen.get(path.name)
            if before is None:
                continue
            workers += 1
            if sum(flags) >= 2 and counts != before:
                sharing += 1
            for i, (new, old) in enumerate(zip(counts, before, strict=True)):
                period[i] += max(0, new - old)
            waits = [w or f for w, f in zip(waits, flags, strict=True)]
        self.seen = seen
        return Period(period, waits, workers, sharing)


def read_record(
    path: Path, now: float, tenants: int
) -> tuple[list[int], list[bool]] | None:
    """A live worker's counts and flags, or None (gone, being replaced, not ours)."""
    try:
        record = json.loads(path.read_text())
        at = float(record["at"])
        counts = [int(n) for n in record["admitted"]]
        flags = [bool(f) for f in record["waiting"]]
    except Exception:  # noqa: BLE001 - any unreadable file is skipped, whatever broke
        return None
    if not now - STALE_S <= at <= now + STALE_S:
        return None
    if len(counts) != tenants or len(flags) != tenants:
        return None
    return counts, flags

"""sentiment.http.shares: tenants' shares across workers, on a fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sentiment.http import shares
from sentiment.http.shares import PERIOD_S, WorkerShares, corrections
from tests.unit.http.test_overload import ClosedLoop, two_tenants

WEIGHTS = (3.0, 1.0)


def test_a_tenant_the_server_serves_below_its_share_is_weighed_up() -> None:
    # this worker admitted 3:1, the other 1:3: the server 1:1 where 3:1 is due
    factors = corrections(WEIGHTS, [400, 400], [300, 100], [True, True], sharing=2)
    assert factors[0] > 1.0 > factors[1]
    # it asks for what it admitted plus its half of GAIN times the server's gap:
    # a 300 + 1 * 200 / 2 = 400, b 100 - 1 * 200 / 2 = 0, then b's floor
    floor = shares.FLOOR * 800 / 2
    local_split = factors[0] * WEIGHTS[0] / (factors[1] * WEIGHTS[1])
    assert local_split == pytest.approx(400 / floor)


def test_the_only_worker_with_a_choice_closes_the_whole_gap() -> None:
    # the same server, but the other worker had nobody waiting: this one acts alone
    factors = corrections(WEIGHTS, [400, 400], [200, 200], [True, True], sharing=1)
    # a 200 + 1 * 200 = 400, b 200 - 1 * 200 = 0, then b's floor
    floor = shares.FLOOR * 800
    local_split = factors[0] * WEIGHTS[0] / (factors[1] * WEIGHTS[1])
    assert local_split == pytest.approx(400 / floor)


def test_a_split_that_follows_the_weights_keeps_this_workers_own() -> None:
    factors = corrections(WEIGHTS, [750, 250], [300, 100], [True, True], sharing=2)
    assert factors == pytest.approx([1.0, 1.0])


def test_a_waiting_tenant_keeps_a_floor_in_every_worker() -> None:
    # the other worker served b 1,490 and a 10: this one would give b nothing
    factors = corrections(WEIGHTS, [500, 1500], [490, 10], [True, True], sharing=2)
    local_split = factors[1] * WEIGHTS[1] / (factors[0] * WEIGHTS[0])
    floor = shares.FLOOR * 2000 / 2  # of the server's admissions per worker
    wanted_a = 490 + shares.GAIN * (1500 - 500) / 2
    assert local_split == pytest.approx(floor / wanted_a)


def test_factors_stay_within_their_bound() -> None:
    factors = corrections((1.0, 1000.0), [10, 10], [10, 10], [True, True], 2)
    assert factors[0] == shares.BOUND


@pytest.mark.parametrize(
    ("admitted", "waiting", "sharing"),
    [
        ([10, 990], [True, False], 2),
        ([0, 0], [True, True], 2),
        ([10, 90], [False, False], 2),
        ([100, 900], [True, True], 0),
    ],
)
def test_fewer_than_two_waiting_tenants_or_no_worker_to_choose_keep_the_weights(
    admitted: list[int], waiting: list[bool], sharing: int
) -> None:
    assert corrections(WEIGHTS, admitted, admitted, waiting, sharing) == [1.0, 1.0]


def clock_at(now: float) -> Callable[[], float]:
    return lambda: now


def exchange_at(worker: WorkerShares, now: float, admitted: list[int]) -> list[float]:
    worker.clock = clock_at(now)
    return worker.exchange(WEIGHTS, admitted, [True, True])


def test_workers_see_each_others_admissions_through_their_files(
    tmp_path: Path,
) -> None:
    one, two = WorkerShares(tmp_path, 2, pid=1), WorkerShares(tmp_path, 2, pid=2)
    exchange_at(two, 0.0, [0, 0])
    exchange_at(one, 0.0, [0, 0])  # one has now seen both files once
    exchange_at(two, 0.25, [100, 300])
    factors = exchange_at(one, 0.25, [300, 100])
    assert factors[0] > 1.0 > factors[1], "the server gives a 1:1 where 3:1 is due"


def test_a_worker_with_one_tenant_waiting_leaves_the_gap_to_the_others(
    tmp_path: Path,
) -> None:
    one, two = WorkerShares(tmp_path, 2, pid=1), WorkerShares(tmp_path, 2, pid=2)
    for now, counts in ((0.0, [0, 0]), (0.25, [100, 300])):
        two.clock = clock_at(now)
        two.exchange(WEIGHTS, counts, [False, True])  # only b waits in two
        factors = exchange_at(one, now, counts[::-1])
    alone = corrections(WEIGHTS, [400, 400], [300, 100], [True, True], sharing=1)
    assert factors == pytest.approx(alone)


def test_an_idle_worker_does_not_count_as_sharing(tmp_path: Path) -> None:
    one, two = WorkerShares(tmp_path, 2, pid=1), WorkerShares(tmp_path, 2, pid=2)
    for now, counts in ((0.0, [0, 0]), (0.25, [200, 200])):
        two.clock = clock_at(now)
        two.exchange(WEIGHTS, [50, 50], [True, True])  # its last flags; no admissions
        factors = exchange_at(one, now, counts)
    alone = corrections(WEIGHTS, [200, 200], [200, 200], [True, True], sharing=1)
    assert factors == pytest.approx(alone)


def test_one_worker_alone_keeps_the_tenants_files_weights(tmp_path: Path) -> None:
    one = WorkerShares(tmp_path, 2, pid=1)
    exchange_at(one, 0.0, [0, 0])
    assert exchange_at(one, 0.25, [100, 900]) == [1.0, 1.0]


def test_a_worker_that_stopped_writing_is_left_out(tmp_path: Path) -> None:
    one, gone = WorkerShares(tmp_path, 2, pid=1), WorkerShares(tmp_path, 2, pid=2)
    exchange_at(gone, 0.0, [0, 0])
    exchange_at(one, 10.0, [0, 0])
    assert exchange_at(one, 10.25, [100, 900]) == [1.0, 1.0]


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"at": 0.1}),
        '{"at": 0.1, "admitted": [Infinity, 1], "waiting": [true, true]}',
        json.dumps({"at": 1e9, "admitted": [5, 5], "waiting": [True, True]}),
        json.dumps({"at": 0.1, "admitted": [5], "waiting": [True]}),
        "[" * 100_000 + "]" * 100_000,
    ],
)
def test_a_file_that_is_not_a_live_workers_is_ignored(
    tmp_path: Path, text: str
) -> None:
    one = WorkerShares(tmp_path, 2, pid=1, server=7)
    other = tmp_path / f"{shares.PREFIX}7.9.json"
    other.write_text(text)
    exchange_at(one, 0.0, [0, 0])
    other.write_text(text.replace("5", "500"))
    assert exchange_at(one, 0.25, [100, 900]) == [1.0, 1.0]


def test_another_servers_workers_are_not_read(tmp_path: Path) -> None:
    one = WorkerShares(tmp_path, 2, pid=1, server=7)
    stranger = WorkerShares(tmp_path, 2, pid=2, server=8)
    for now, counts in ((0.0, [0, 0]), (0.25, [900, 100])):
        exchange_at(stranger, now, counts)
        assert exchange_at(one, now, [100, 900]) == [1.0, 1.0]


def test_no_shared_directory_means_no_exchange(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert WorkerShares.of_server(2) is None
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert WorkerShares.of_server(1) is None, "one tenant: nothing to share"
    assert WorkerShares.of_server(2) is not None


def two_workers(tmp_path: Path, exchange: bool, seconds: float = 6.0) -> float:
    """Weights 3:1 on two simulated workers, tenants' connections spread unevenly.

    Worker one holds 246 of a's connections and 91 of b's, worker two 9 of a's and
    160 of b's (a spread measured under wrk). A client waits 20 ms between an answer
    and its next request, so a's 9 connections cannot fill worker two's share.
    Returns the server's a:b split of admissions over the last half.
    """
    workers = [
        ClosedLoop(two_tenants(*WEIGHTS), {0: 246, 1: 91}, gap=0.02),
        ClosedLoop(two_tenants(*WEIGHTS), {0: 9, 1: 160}, gap=0.02),
    ]
    for worker in workers:
        for tenant, count in worker.clients.items():
            for _ in range(count):
                worker.push(0.0, "send", tenant)
    sides = [WorkerShares(tmp_path, 2, pid=pid) for pid in (1, 2)]
    half: list[int] = [0, 0]
    now = 0.0
    while now < seconds:
        now += PERIOD_S
        for worker, side in zip(workers, sides, strict=True):
            worker.advance(now, seconds)
            lanes = worker.queue.lanes
            if exchange:
                side.clock = clock_at(now)
                counts = [lane.admitted for lane in lanes]
                waiting = [lane.in_round for lane in lanes]
                worker.queue.reweigh(side.exchange(WEIGHTS, counts, waiting))
        if now == pytest.approx(seconds / 2):
            half = [sum(w.queue.lanes[t].admitted for w in workers) for t in (0, 1)]
    total = [sum(w.queue.lanes[t].admitted for w in workers) for t in (0, 1)]
    return (total[0] - half[0]) / (total[1] - half[1])


def test_two_workers_with_uneven_connections_split_by_the_weights(
    tmp_path: Path,
) -> None:
    assert two_workers(tmp_path, exchange=True) == pytest.approx(3.0, rel=0.05)


def test_without_the_exchange_the_same_spread_misses_the_weights(
    tmp_path: Path,
) -> None:
    assert two_workers(tmp_path, exchange=False) < 2.8


def test_an_exchange_that_breaks_keeps_the_files_weights_and_does_not_raise(
    tmp_path: Path,
) -> None:
    one = WorkerShares(tmp_path, 2, pid=1)
    assert one.exchange(WEIGHTS, [1, 2, 3], [True, True, True]) == [1.0, 1.0]

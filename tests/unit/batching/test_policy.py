"""sentiment.batching.policy: the batching decisions on plain data, no BentoML."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, deque
from pathlib import Path

import pytest

from sentiment.batching.policy import (
    WARM_UP_BATCHES,
    BatchFit,
    Lanes,
    fair_batch,
    goes_now,
    leave_out,
    left_out_because,
    several_tenants,
    sheds_oldest,
    tenant_lanes,
)
from sentiment.leases import Lease

PROJECT_DIR = Path(__file__).resolve().parents[3]
COLD = BatchFit(a=5.0, b=5.0, seen=WARM_UP_BATCHES - 1)  # wild guesses, not trusted
WARM = BatchFit(a=0.001, b=0.01, seen=WARM_UP_BATCHES)  # 10 ms + 1 ms per item
GONE = Lease("t", gone=lambda: True)


def test_the_policy_loads_without_bentoml() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, sentiment.batching.policy; "
            "print(sorted(m for m in sys.modules if 'bentoml' in m))",
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"


def test_a_batch_is_expected_to_take_nothing_until_the_fit_is_warm() -> None:
    assert COLD.expected_s(100) == 0.0
    assert WARM.expected_s(1) == pytest.approx(0.011)
    assert WARM.expected_s(100) == pytest.approx(0.11)


@pytest.mark.parametrize(
    ("lease", "queued", "busy", "fit", "goes"),
    [
        (Lease("t"), 1, False, WARM, True),
        (Lease("t"), 2, False, WARM, False),
        (Lease("t"), 1, True, WARM, False),
        (GONE, 1, False, WARM, False),
        (Lease("t", deadline=100.005), 1, False, WARM, False),
        (Lease("t", deadline=100.005), 1, False, COLD, True),
    ],
    ids=[
        "alone to an idle model",
        "others queued",
        "a batch runs",
        "its client left",
        "its batch would end after its deadline",
        "a cold fit: only the deadline itself counts",
    ],
)
def test_a_request_goes_now_only_alone_to_an_idle_model_and_in_time(
    lease: Lease, queued: int, busy: bool, fit: BatchFit, goes: bool
) -> None:
    assert goes_now(lease, queued, busy, now=100.0, fit=fit) is goes


def test_a_queued_request_is_left_out_when_gone_or_late_when_its_batch_ends() -> None:
    assert left_out_because(None, ends_at=100.0) is None, "no lease: it goes"
    assert left_out_because(Lease("t"), ends_at=100.0) is None
    assert left_out_because(Lease("t", deadline=100.0), ends_at=100.0) == "deadline"
    assert left_out_because(Lease("t", deadline=100.1), ends_at=100.0) is None
    late_and_gone = Lease("t", deadline=0.0, gone=lambda: True)
    assert left_out_because(late_and_gone, ends_at=100.0) == "disconnect"


def test_leave_out_keeps_the_rest_in_order_and_says_why_for_each() -> None:
    late = Lease("late", deadline=50.0)
    queued = [("a", Lease("t")), ("b", late), ("c", None), ("d", GONE), ("e", None)]
    kept, dropped = leave_out(queued, ends_at=60.0)
    assert kept == ["a", "c", "e"]
    assert dropped == [("b", late, "deadline"), ("d", GONE, "disconnect")]


@pytest.mark.parametrize(
    ("queued", "waited", "busy", "fit", "shed"),
    [
        (3, 0.89, True, WARM, False),  # 0.89 + 0.013 < 1 s
        (3, 0.99, True, WARM, True),  # 0.99 + 0.013 >= 1 s
        (3, 0.99, False, COLD, False),  # a cold fit adds nothing
        (3, 1.0, False, COLD, True),  # the budget itself is spent
        (1, 0.99, True, WARM, False),  # alone: only its own wait counts
        (1, 1.0, True, WARM, True),
        (1, 5.0, False, WARM, False),  # alone to an idle model: it goes, never shed
    ],
)
def test_the_oldest_is_shed_when_it_cannot_meet_the_budget(
    queued: int, waited: float, busy: bool, fit: BatchFit, shed: bool
) -> None:
    assert sheds_oldest(queued, waited, busy, max_latency=1.0, fit=fit) is shed


def test_the_rest_of_a_split_request_is_not_another_tenant() -> None:
    # None: a split child's job, which has no lease of its own.
    assert not several_tenants([Lease("a"), None, Lease("a")])
    assert several_tenants([Lease("a"), None, Lease("a"), Lease("b")])
    assert not several_tenants([None, None])


def test_tenant_lanes_keep_arrival_order_and_each_tenants_weight() -> None:
    heavy = Lease("heavy", weight=3.0)
    queued = [("j1", 5, heavy), ("j2", 1, Lease("light")), ("j3", 2, None)]
    queued.append(("j4", 7, heavy))
    lanes, weights = tenant_lanes(queued)
    assert lanes == {
        "heavy": deque([("j1", 5), ("j4", 7)]),
        "light": deque([("j2", 1)]),
        "": deque([("j3", 2)]),
    }
    assert weights == {"heavy": 3.0, "light": 1.0, "": 1.0}


def lanes_of(**jobs: list[int]) -> Lanes[str]:
    """Tenant lanes of jobs with these sizes (each job is its tenant's name)."""
    return {name: deque((name, size) for size in sizes) for name, sizes in jobs.items()}


def test_a_fair_batch_takes_a_light_tenants_review_beside_anothers_backlog() -> None:
    lanes = lanes_of(bulk=[100] * 10, light=[1, 1, 1])
    chosen = fair_batch(lanes, {"bulk": 1.0, "light": 1.0}, capacity=256)
    assert chosen.count("light") == 3, "all 3, not after 25"
    assert chosen.count("bulk") == 3, "the third one is split"


def test_a_fair_batch_splits_by_weight_counted_once() -> None:
    lanes = lanes_of(a=[1] * 300, b=[1] * 300)
    chosen = fair_batch(lanes, {"a": 3.0, "b": 1.0}, capacity=100)
    assert Counter(chosen) == {"a": 75, "b": 25}


def test_a_job_larger_than_the_batch_is_not_kept_out_by_smaller_ones() -> None:
    lanes = lanes_of(huge=[1_000], small=[1] * 1_000)
    chosen = fair_batch(lanes, {"huge": 1.0, "small": 1.0}, capacity=64)
    assert "huge" in chosen

"""The adaptive-batching policy: when a batch goes, who is in it, who is left out.

Plain code, no BentoML: :class:`sentiment.batching.dispatcher.IdleDispatcher`
reads BentoML's queue, its fit of batch durations and the clock, and asks these
functions. Every input is an argument (the time too), so the tests drive them
with plain data.

- :func:`goes_now`: a request that finds the model idle and nobody queued goes
  at once; it never waits for a learned delay.
- :func:`leave_out`: a queued request whose client left, or whose deadline
  passes before its batch would end, is not scored.
- :func:`sheds_oldest`: the oldest request, if it cannot meet ``max_latency``,
  is shed (503).
- :func:`expected_batch_s`: how long a batch should take, once the fit of batch
  durations has seen :data:`WARM_UP_BATCHES` batches (:class:`BatchFit`).
- :func:`fair_batch`: when more is queued than one batch takes, the batch is
  filled by deficit round robin over the tenants.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Literal, NamedTuple, Protocol, TypeVar

from sentiment.leases import Lease

WARM_UP_BATCHES = 20  # batches seen before trusting the latency model
Job = TypeVar("Job")
# Why a queued request is left out of its batch (sentiment_batch_dropped_total's
# reason label): its deadline would pass first, or its client disconnected.
LeftOut = Literal["deadline", "disconnect"]
Lanes = dict[str, deque[tuple[Job, int]]]


def expected_batch_s(a: float, b: float, seen: int, size: int) -> float:
    """Seconds a batch of ``size`` items should take, by the fit ``a * size + b``.

    0 until the fit has seen :data:`WARM_UP_BATCHES` batches: before, its
    guesses (a fixed 1/15 of the budget per request, or a fit to a slow first
    call) shed requests that would have been fast.
    """
    if seen < WARM_UP_BATCHES:
        return 0.0
    return float(a * size + b)


class Fit(Protocol):
    """What the policy asks of a fit of batch durations."""

    def expected_s(self, size: int) -> float:
        """Seconds a batch of ``size`` items should take (:func:`expected_batch_s`)."""
        ...


class BatchFit(NamedTuple):
    """A fit of batch durations as plain data: ``a * size + b`` seconds.

    Attributes:
        a: seconds per item.
        b: seconds per batch.
        seen: batches the fit was made from.
    """

    a: float
    b: float
    seen: int

    def expected_s(self, size: int) -> float:
        """Seconds a batch of ``size`` items should take (:func:`expected_batch_s`)."""
        return expected_batch_s(self.a, self.b, self.seen, size)


def goes_now(lease: Lease, queued: int, busy: bool, now: float, fit: Fit) -> bool:
    """Whether a request that just arrived goes to the model at once.

    When it is the only one queued, no batch runs, its client is there and a
    batch of one would end before its deadline. Its own call then dispatches it:
    waking the controller first cost a condition's notify, a task switch and the
    controller's checks, about 0.1 ms of a lone 100-review request. Within its
    first instant it cannot be shed (it has not waited); an abandoned or late
    one goes the controller's way, which leaves it out.

    Args:
        lease: the request's lease.
        queued: jobs in the queue, this one included.
        busy: whether a batch runs.
        now: monotonic seconds.
        fit: the fit of batch durations.
    """
    return (
        queued == 1
        and not busy
        and not lease.abandoned()
        and not lease.late(now + fit.expected_s(1))
    )


def left_out_because(lease: Lease | None, ends_at: float) -> LeftOut | None:
    """Why a queued request stays out of the batch about to form (None: it goes).

    Its client left (nobody would read the answer), or its deadline comes before
    ``ends_at``, when the batch should end: answered late, it would be scored
    for nobody (measured at 2x capacity with 200 ms deadlines: the slowest
    answer took 346 ms without this). A job without a lease always goes.
    """
    if lease is None:
        return None
    if lease.abandoned():
        return "disconnect"
    if lease.late(ends_at):
        return "deadline"
    return None


def leave_out(
    queued: Iterable[tuple[Job, Lease | None]], ends_at: float
) -> tuple[list[Job], list[tuple[Job, Lease, LeftOut]]]:
    """The queued jobs that stay, in order, and those left out, with lease and why.

    Args:
        queued: each job with its lease (None: it has none, or is answered).
        ends_at: monotonic seconds when the batch about to form should end.
    """
    kept: list[Job] = []
    dropped: list[tuple[Job, Lease, LeftOut]] = []
    for job, lease in queued:
        reason = left_out_because(lease, ends_at)
        if lease is None or reason is None:
            kept.append(job)
        else:
            dropped.append((job, lease, reason))
    return kept, dropped


def sheds_oldest(
    queued: int, waited: float, busy: bool, max_latency: float, fit: Fit
) -> bool:
    """Whether the oldest queued request cannot meet ``max_latency`` (shed: 503).

    With others queued: once its wait plus a batch of the whole queue reaches the
    budget (BentoML's own estimate, which sizes that batch by every request
    queued). Alone behind a running batch: once its wait alone reaches it.

    Args:
        queued: jobs in the queue.
        waited: seconds the oldest has waited.
        busy: whether a batch runs.
        max_latency: the batching budget, seconds.
        fit: the fit of batch durations.
    """
    if queued > 1:
        return waited + fit.expected_s(queued) >= max_latency
    return busy and queued == 1 and waited >= max_latency


def several_tenants(leases: Iterable[Lease | None]) -> bool:
    """Whether the leases name more than one tenant (None is no tenant).

    A queued job without a lease is the rest of a request BentoML split across
    two batches (its child job has a new future): counted as a tenant of its
    own, it made every bulk batch of one tenant go the fair way (about 0.5 ms of
    batch sizes per batch on the event loop).
    """
    first: str | None = None
    for lease in leases:
        if lease is None:
            continue
        if first is None:
            first = lease.tenant
        elif lease.tenant != first:
            return True
    return False


def tenant_lanes(
    queued: Iterable[tuple[Job, int, Lease | None]],
) -> tuple[Lanes[Job], dict[str, float]]:
    """Jobs by tenant in arrival order, with their sizes, and each tenant's weight.

    A job without a lease is tenant ``""`` of weight 1.
    """
    lanes: Lanes[Job] = {}
    weights: dict[str, float] = {}
    for job, size, lease in queued:
        name = "" if lease is None else lease.tenant
        lanes.setdefault(name, deque()).append((job, size))
        weights[name] = 1.0 if lease is None else lease.weight
    return lanes, weights


def fair_batch(
    lanes: Lanes[Job], weights: dict[str, float], capacity: int
) -> list[Job]:
    """Jobs for one batch of ``capacity`` items, by deficit round robin.

    First come, first served would make a tenant's one review wait behind every
    batch of another's backlog (bulk bodies: 64 requests of 100 reviews are 25
    batches). Each round, every tenant with jobs left earns ``weight / lightest``
    items' worth of credit (the lightest one item) and takes its jobs in order
    while its credit covers them. Admission already split the requests by
    weight; this only decides which are scored first, so weights count once.
    The last job taken may pass ``capacity``: BentoML's batch assembly splits
    it. O(jobs) per batch; it takes the jobs out of ``lanes``.
    """
    lightest = min(weights[name] for name in lanes)
    credit = dict.fromkeys(lanes, 0.0)
    chosen: list[Job] = []
    room = capacity
    while room > 0 and lanes:
        for name in list(lanes):
            lane = lanes[name]
            credit[name] += weights[name] / lightest
            # A job larger than the room left goes once the credit covers the
            # room (it is split): credit starts afresh each batch, so waiting
            # for its whole size could keep it out for as long as others queue.
            while lane and room > 0 and min(lane[0][1], room) <= credit[name]:
                job, size = lane.popleft()
                credit[name] -= size
                room -= size
                chosen.append(job)
            if not lane:
                del lanes[name]
            if room <= 0:
                break
    return chosen

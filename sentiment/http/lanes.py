"""One tenant's place in the admission queue: its waiting requests and share.

A :class:`Ticket` is one waiting request; a :class:`Lane` holds a tenant's
tickets in arrival order with its weight, caps and credit for the deficit round
robin that :class:`sentiment.http.overload.AdmissionQueue` runs. Pure logic.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sentiment.http.measures import TokenBucket

UNLIMITED = 1 << 30


@dataclass
class Ticket:
    """One request waiting for admission.

    Attributes:
        arrived: when it arrived (the queue's clock).
        future: set to None when admitted, or to the refusal's reason.
        tenant: its tenant's lane (index into the queue's tenants).
        deadline: when its client stops waiting (None: it named none).
        gone: whether its client has disconnected (None: cannot be told).
    """

    arrived: float
    future: asyncio.Future[str | None] | None = None  # None in the unit tests
    tenant: int = 0
    deadline: float | None = None
    gone: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Share:
    """What the queue needs of a tenant: its weight and optional limits."""

    weight: float = 1.0
    max_in_flight: int | None = None
    rate_per_s: float | None = None


class Lane:
    """One tenant's waiting requests, in arrival order, and its credit."""

    def __init__(self, share: Share, quantum: float) -> None:
        self.share_weight = share.weight  # the tenants file's
        self.weight = share.weight  # as the queue applies it (:meth:`reweigh`)
        self.quantum = quantum
        self.cap = share.max_in_flight or UNLIMITED
        rate = share.rate_per_s
        self.bucket = TokenBucket(rate, max(1.0, rate)) if rate else None
        self.waiting: deque[Ticket] = deque()
        self.in_flight = 0
        self.admitted = 0  # since start, for the shares across workers
        self.deficit = 0.0
        self.in_round = False

    def servable(self, now: float, budget: float) -> bool:
        """Whether it may take a slot now: below its cap, a request within budget.

        The newest request is the last to pass the budget, so one look will do.
        """
        return (
            self.in_flight < self.cap
            and bool(self.waiting)
            and now - self.waiting[-1].arrived <= budget
        )

    def due(self, now: float, budget: float, refuse_after: float) -> float | None:
        """When its oldest request is next due a decision (None: none waits).

        Its budget's end, then ``refuse_after``, or its deadline if sooner.
        """
        if not self.waiting:
            return None
        head = self.waiting[0]
        forced = head.arrived + refuse_after
        missed = head.arrived + budget
        when = min(forced, missed) if missed > now else forced
        return when if head.deadline is None else min(when, head.deadline)

    def take(self, now: float, budget: float) -> Ticket:
        """Remove and return the oldest request within the budget (one must be).

        Those older are held until
        :meth:`sentiment.http.overload.AdmissionQueue.expire` refuses them.
        """
        waiting = self.waiting
        if now - waiting[0].arrived <= budget:
            return waiting.popleft()
        index = self.first_within_budget(now, budget)
        ticket = waiting[index]
        del waiting[index]
        return ticket

    def first_within_budget(self, now: float, budget: float) -> int:
        """Index of the oldest request within the budget (binary search).

        ``len(self.waiting)`` when every waiting request is past it.
        """
        low, high = 0, len(self.waiting)
        while low < high:
            middle = (low + high) // 2
            if now - self.waiting[middle].arrived <= budget:
                high = middle
            else:
                low = middle + 1
        return low


def reweigh(
    lanes: Sequence[Lane], round: Sequence[Lane], factors: Sequence[float]
) -> float:
    """Each lane's weight as its tenant's times ``factors``; the round's weight.

    The shares across workers (:mod:`sentiment.http.shares`) set the factors; all
    1 gives the tenants file's weights back. The lightest lane with demand (in
    ``round``) earns 1 a turn, and credit earned at the old weights is capped at
    a turn's worth of the new.
    """
    for lane, factor in zip(lanes, factors, strict=True):
        lane.weight = lane.share_weight * factor
    least = min(lane.weight for lane in round or lanes)
    for lane in lanes:
        lane.quantum = max(1.0, lane.weight / least)
        lane.deficit = min(lane.deficit, lane.quantum)
    return sum(lane.weight for lane in round)

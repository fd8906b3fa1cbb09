"""The overload policy: which waiting request goes in, which is held, which refused.

Pure logic, the clock passed in, so it is tested on a fake clock; its pieces are
the tenants' lanes (:mod:`sentiment.http.lanes`) and what it measures
(:mod:`sentiment.http.measures`). :class:`sentiment.http.admission.Admission`
is the ASGI layer that runs it. The rules and why they were chosen are in
:mod:`sentiment.http.admission` and docs/overload.md.

Each tenant (:mod:`sentiment.http.tenants`) waits in its own lane; a free slot
goes to the lanes by deficit round robin (Shreedhar and Varghese, 1995): each
lane with a request it may serve earns its weight in credit per round and spends
one per admitted request, so admissions split by weight while every lane has
demand, and a lane with nothing to serve leaves the round, its share going to
the others (work-conserving). Choosing is O(1); the timeouts are swept per lane.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from sentiment.http.held import HeldRefusals
from sentiment.http.lanes import Lane, Share, Ticket, reweigh
from sentiment.http.measures import ServiceRate

# 503s (the server is past capacity), 429s (the tenant: over its share while
# others wait, or over its own rate), a 504 (the request's deadline cannot be
# met), and requests whose client left (nothing is sent that anyone reads).
OVERLOADED = ("waited_too_long", "queue_full")
TENANT_LIMITS = ("over_share", "rate_limited")
REFUSAL_REASONS = (*OVERLOADED, *TENANT_LIMITS, "deadline", "disconnected")


@dataclass
class Decisions:
    """What to do after an event: these tickets go in, these get a 503."""

    admit: list[Ticket] = field(default_factory=list)
    refuse: list[tuple[Ticket, str]] = field(default_factory=list)


class AdmissionQueue:
    """Which waiting requests go in, wait, or get refused. Times in seconds.

    Args:
        limit: most requests inside the service at once.
        budget: the longest a request may have waited and still be admitted.
        refuse_after: when a request that missed the budget gets its refusal;
            until then it is held (its client sends nothing more meanwhile).
        max_queue: most waiting requests; beyond it the longest lane's oldest is
            refused.
        tenants: each tenant's weight and limits, in lane order (default: one).
        target: seconds of work to keep inside the service (0: ``limit`` fixed):
            the limit is then the measured rate x target (Little's law), within
            ``min_limit`` and ``limit``, so the waiting happens in the lanes,
            where the tenants' shares are decided.
        min_limit: the least the limit may fall to (bulk bodies still batch).
    """

    def __init__(
        self,
        limit: int,
        budget: float,
        refuse_after: float,
        max_queue: int,
        tenants: Sequence[Share] = (Share(),),
        target: float = 0.0,
        min_limit: int = 1,
    ) -> None:
        self.limit = limit
        self.max_limit = limit
        self.min_limit = min(max(1, min_limit), limit)
        self.target = target
        self.budget = budget
        self.refuse_after = max(refuse_after, budget)
        self.max_queue = max_queue
        self.in_flight = 0
        self.queued = 0
        least = min(share.weight for share in tenants)
        # The lightest lane earns 1 per round, so every turn admits at least one.
        self.lanes = [Lane(share, share.weight / least) for share in tenants]
        self.round: deque[Lane] = deque()
        self.round_weight = 0.0
        self.service = ServiceRate()
        self.held = HeldRefusals()

    @property
    def waiting(self) -> list[Ticket]:
        """Every waiting request, lane by lane (for tests, O(n))."""
        return [ticket for lane in self.lanes for ticket in lane.waiting]

    def arrive(self, ticket: Ticket, now: float) -> Decisions:
        """A request arrives: in at once if there is room and nobody waits.

        Over its tenant's rate it gets a 429 at once. When its expected wait
        (its lane's backlog over the lane's share of the measured service rate)
        is past its deadline, a 504, held (:meth:`refuse_late`). Otherwise it
        waits in its lane.
        """
        decisions = self.expire(now)
        lane = self.lanes[ticket.tenant]
        if lane.bucket is not None and not lane.bucket.take(now):
            decisions.refuse.append((ticket, "rate_limited"))
            return decisions
        if lane.in_flight < lane.cap and not lane.waiting and self.has_room(lane):
            self.admit(lane, ticket, decisions)
            return decisions
        wait = self.expected_wait(now, lane)
        if ticket.deadline is not None and now + wait > self.last_call(ticket.deadline):
            self.refuse_late(ticket, ticket.deadline, now, decisions)
            return self.fill(decisions, now)
        lane.waiting.append(ticket)
        self.queued += 1
        self.join_round(lane)
        while self.queued > self.max_queue:
            longest = max(self.lanes, key=lambda lane: len(lane.waiting))
            self.queued -= 1
            oldest = longest.waiting.popleft()
            decisions.refuse.append((oldest, self.blame(longest, "queue_full")))
        return self.fill(decisions, now)

    def refuse_late(
        self, ticket: Ticket, deadline: float, now: float, decisions: Decisions
    ) -> None:
        """A 504, held until ``deadline`` (:mod:`sentiment.http.held`).

        At most ``refuse_after`` after arrival; past ``max_queue`` held, the one
        due soonest is answered at once (bounded memory).
        """
        until = min(deadline, ticket.arrived + self.refuse_after)
        if until <= now:
            decisions.refuse.append((ticket, "deadline"))
            return
        self.held.hold(ticket, "deadline", until)
        if len(self.held) > self.max_queue and (soonest := self.held.soonest()):
            decisions.refuse.append(soonest)

    def service_time(self) -> float:
        """Seconds an admitted request spends inside (in flight over the rate)."""
        rate = self.service.per_s
        return self.in_flight / rate if rate else 0.0

    def last_call(self, deadline: float) -> float:
        """The latest a request may go in and be answered by ``deadline``."""
        return deadline - self.service_time()

    def has_room(self, lane: Lane) -> bool:
        """Whether a request of ``lane`` that waits behind nobody goes in at once.

        While there is room and nobody waits, yes. At the limit, still yes for a
        tenant below its weight's share of the slots (among the tenants with
        demand): slots free up a batch at a time, and waiting for one would cost
        it a batch cycle. A single tenant's share is the whole limit.
        """
        if self.in_flight < self.limit and not self.queued:
            return True
        if len(self.lanes) == 1:
            return False
        demand = lane.weight + self.others_demand(lane)
        return lane.in_flight + 1 <= self.limit * lane.weight / demand

    def others_demand(self, lane: Lane) -> float:
        """The weight of the other tenants with demand (a request inside or waiting)."""
        return sum(
            other.weight
            for other in self.lanes
            if other is not lane and (other.in_flight or other.waiting)
        )

    def admit(self, lane: Lane, ticket: Ticket, decisions: Decisions) -> None:
        """Let ``ticket`` in."""
        self.in_flight += 1
        lane.in_flight += 1
        lane.admitted += 1
        decisions.admit.append(ticket)

    def reweigh(self, factors: Sequence[float]) -> None:
        """Each lane's weight as its tenant's times ``factors`` (:func:`reweigh`)."""
        self.round_weight = reweigh(self.lanes, self.round, factors)

    def expected_wait(self, now: float, lane: Lane | None = None) -> float:
        """Seconds a request arriving now would wait (0 until the rate is known).

        For a lane: its backlog within the budget, plus one, over its share of
        the measured rate. Without one: the worst lane's (the gauge).
        """
        rate = self.service.per_s
        if not rate or not self.queued:
            return 0.0
        if lane is None:
            return max(self.expected_wait(now, each) for each in self.lanes)
        ahead = len(lane.waiting) - lane.first_within_budget(now, self.budget)
        weights = self.round_weight + (0.0 if lane.in_round else lane.weight)
        return (ahead + 1) / (rate * lane.weight / weights)

    def finish(self, now: float, tenant: int = 0) -> Decisions:
        """An admitted request of ``tenant`` was answered: let the next ones in."""
        self.in_flight -= 1
        lane = self.lanes[tenant]
        lane.in_flight -= 1
        if lane.waiting:
            self.join_round(lane)
        if self.service.finish(now, bool(self.queued)):
            self.size_limit()
        return self.tick(now)

    def size_limit(self) -> None:
        """The limit as ``target`` seconds of work at the measured rate (if set)."""
        rate = self.service.per_s
        if self.target and rate:
            wanted = round(rate * self.target)
            self.limit = max(self.min_limit, min(self.max_limit, wanted))

    def tick(self, now: float) -> Decisions:
        """Refuse the requests whose time has come; admit while there is room."""
        return self.fill(self.expire(now), now)

    def fill(self, decisions: Decisions, now: float) -> Decisions:
        """Admit waiting requests within the budget while there is room."""
        while self.in_flight < self.limit:
            lane = self.next_lane(now)
            if lane is None:
                break
            ticket = lane.take(now, self.budget)
            self.queued -= 1
            if ticket.gone is not None and ticket.gone():
                decisions.refuse.append((ticket, "disconnected"))
                continue
            if ticket.deadline is not None and now > self.last_call(ticket.deadline):
                self.refuse_late(ticket, ticket.deadline, now, decisions)
                continue
            lane.deficit -= 1
            if lane.deficit < 1:  # its turn is over
                self.round.rotate(-1)
            self.admit(lane, ticket, decisions)
        return decisions

    def next_lane(self, now: float) -> Lane | None:
        """The lane whose turn it is (deficit round robin), with credit for one.

        A lane at the head with nothing it may serve leaves the round and its
        credit lapses, as in DRR: an idle tenant does not save up a burst.
        """
        round = self.round
        while round:
            lane = round[0]
            if not lane.servable(now, self.budget):
                round.popleft()
                lane.in_round, lane.deficit = False, 0.0
                self.round_weight -= lane.weight
                continue
            if lane.deficit < 1:  # a new turn
                lane.deficit += lane.quantum
            return lane
        return None

    def join_round(self, lane: Lane) -> None:
        """Put a lane with waiting requests at the back of the round."""
        if not lane.in_round and lane.in_flight < lane.cap:
            lane.in_round = True
            self.round.append(lane)
            self.round_weight += lane.weight

    def blame(self, lane: Lane, reason: str) -> str:
        """Why ``lane``'s request is refused: its own share, or overload.

        ``over_share`` (a 429) when the lane holds at least its weight's share of
        the slots while another tenant has demand; ``reason`` (a 503) otherwise.
        """
        others = self.others_demand(lane)
        if not others:
            return reason
        share = lane.weight / (lane.weight + others)
        return "over_share" if lane.in_flight >= share * self.limit else reason

    def next_deadline(self, now: float) -> float | None:
        """When a lane's oldest or a held request is next due (None: nobody)."""
        dues = [lane.due(now, self.budget, self.refuse_after) for lane in self.lanes]
        dues.append(self.held.next_at())
        return min((due for due in dues if due is not None), default=None)

    def expire(self, now: float) -> Decisions:
        """Refuse the requests whose time is up, from the head of each lane.

        Past ``refuse_after``, past their own deadline, or their client gone: at
        once; past the budget, at ``refuse_after`` (held). One deeper in a lane
        is refused when it reaches the head or its turn. Held refusals now due.
        """
        decisions = Decisions(refuse=self.held.due(now))
        for lane in self.lanes:
            waiting = lane.waiting
            while waiting:
                head = waiting[0]
                if head.gone is not None and head.gone():
                    reason = "disconnected"
                elif now - head.arrived >= self.refuse_after:
                    reason = self.blame(lane, "waited_too_long")
                elif head.deadline is not None and now >= head.deadline:
                    reason = "deadline"
                else:
                    break
                waiting.popleft()
                self.queued -= 1
                decisions.refuse.append((head, reason))
        return decisions

    def withdraw(self, ticket: Ticket) -> bool:
        """Take a waiting request out (its task was cancelled); whether it waited."""
        waiting = self.lanes[ticket.tenant].waiting
        if ticket not in waiting:
            return self.held.withdraw(ticket)
        waiting.remove(ticket)
        self.queued -= 1
        return True

    def oldest_wait(self, now: float) -> float:
        """Seconds the oldest waiting request has waited (0 when none waits)."""
        heads = [lane.waiting[0].arrived for lane in self.lanes if lane.waiting]
        return now - min(heads) if heads else 0.0

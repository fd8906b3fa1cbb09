"""sentiment.http.overload: the admission queue on a fake clock."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import pytest

from sentiment.http.lanes import Share, Ticket
from sentiment.http.overload import AdmissionQueue, Decisions

LIMIT, SERVICE_S = 4, 0.01  # capacity: 400 requests/s
BUDGET, REFUSE_AFTER, MAX_QUEUE = 0.5, 1.0, 10_000


def new_queue(max_queue: int = MAX_QUEUE) -> AdmissionQueue:
    return AdmissionQueue(LIMIT, BUDGET, REFUSE_AFTER, max_queue)


@dataclass
class Simulation:
    """Arrivals at a fixed rate into a queue whose admitted requests take SERVICE_S."""

    queue: AdmissionQueue = field(default_factory=new_queue)
    admitted_waits: list[float] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    finishing: list[float] = field(default_factory=list)  # finish times, sorted
    arrivals: int = 0

    def record(self, decisions: Decisions, now: float) -> None:
        for ticket in decisions.admit:
            self.admitted_waits.append(now - ticket.arrived)
            self.finishing.append(now + SERVICE_S)
        for _, reason in decisions.refuse:
            self.refused[reason] = self.refused.get(reason, 0) + 1
        self.finishing.sort()
        assert self.queue.in_flight <= LIMIT

    def run(self, rate: float, start: float, seconds: float) -> None:
        """Arrivals every 1/rate s from ``start``; finishes happen in time order."""
        step = 1 / rate if rate else 0.01  # no arrivals: a clock tick
        now, end = start, start + seconds
        while now < end:
            while self.finishing and self.finishing[0] <= now:
                done = self.finishing.pop(0)
                self.record(self.queue.finish(done), done)
            if rate:
                self.arrivals += 1
                self.record(self.queue.arrive(Ticket(now), now), now)
            else:
                self.record(self.queue.tick(now), now)
            now += step

    @property
    def accounted(self) -> int:
        served = len(self.admitted_waits)
        return served + sum(self.refused.values()) + len(self.queue.waiting)


def test_idle_request_goes_in_at_once_and_leaves() -> None:
    queue = new_queue()
    ticket = Ticket(0.0)
    assert queue.arrive(ticket, 0.0).admit == [ticket]
    assert queue.finish(0.01).admit == [] and queue.in_flight == 0


def test_at_capacity_requests_wait_first_come_first_served() -> None:
    queue = new_queue()
    tickets = [Ticket(i / 1000) for i in range(LIMIT + 2)]
    for ticket in tickets:
        queue.arrive(ticket, ticket.arrived)
    assert queue.in_flight == LIMIT and len(queue.waiting) == 2
    assert queue.finish(0.1).admit == [tickets[LIMIT]]
    assert queue.finish(0.1).admit == [tickets[LIMIT + 1]]


def test_at_capacity_everything_is_served_within_the_budget() -> None:
    sim = Simulation()
    sim.run(rate=LIMIT / SERVICE_S, start=0.0, seconds=3.0)
    assert sim.refused == {}
    assert max(sim.admitted_waits) <= BUDGET
    assert sim.accounted == sim.arrivals


def test_four_times_overload_serves_at_capacity_within_the_budget() -> None:
    sim = Simulation()
    capacity = LIMIT / SERVICE_S
    sim.run(rate=4 * capacity, start=0.0, seconds=5.0)
    served = len(sim.admitted_waits)
    assert served >= 0.95 * capacity * 5.0, "the model must stay busy"
    assert max(sim.admitted_waits) <= BUDGET, "nobody is served after the budget"
    assert sim.refused.get("waited_too_long", 0) > 0
    assert sim.accounted == sim.arrivals, "every request is served, refused or waiting"


def test_refusals_come_after_refuse_after_not_at_once() -> None:
    queue = new_queue()
    for _ in range(LIMIT + 1):
        queue.arrive(Ticket(0.0), 0.0)
    assert queue.tick(REFUSE_AFTER - 0.01).refuse == []
    refused = queue.tick(REFUSE_AFTER)
    assert [reason for _, reason in refused.refuse] == ["waited_too_long"]


def test_recovery_after_overload_serves_new_requests_without_waiting() -> None:
    sim = Simulation()
    capacity = LIMIT / SERVICE_S
    sim.run(rate=4 * capacity, start=0.0, seconds=2.0)
    sim.run(rate=0, start=2.0, seconds=REFUSE_AFTER + 0.1)  # the held ones get 503s
    assert not sim.queue.waiting and sim.queue.in_flight == 0
    before = len(sim.admitted_waits)
    sim.run(rate=capacity / 2, start=3.2, seconds=1.0)
    assert sim.admitted_waits[before:] and max(sim.admitted_waits[before:]) == 0.0
    assert sim.accounted == sim.arrivals


def test_oldest_within_budget_goes_first_past_the_held_ones() -> None:
    queue = new_queue()
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    held, fresh, fresher = Ticket(0.0), Ticket(0.7), Ticket(0.8)
    for ticket in (held, fresh, fresher):
        queue.arrive(ticket, ticket.arrived)
    assert queue.finish(0.9).admit == [fresh]  # held waited 0.9 > budget
    assert list(queue.waiting) == [held, fresher]


def test_over_max_queue_the_oldest_is_refused() -> None:
    queue = new_queue(max_queue=2)
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    first, second, third = Ticket(0.1), Ticket(0.2), Ticket(0.3)
    queue.arrive(first, 0.1)
    queue.arrive(second, 0.2)
    assert queue.arrive(third, 0.3).refuse == [(first, "queue_full")]


def test_past_capacity_requests_are_held_not_refused_at_once() -> None:
    sim = Simulation()
    sim.run(rate=4 * LIMIT / SERVICE_S, start=0.0, seconds=3.0)
    assert set(sim.refused) == {"waited_too_long"}


# --- Tenants: weighted fair queueing, deadlines, disconnects (fake clock) ---


@dataclass
class ClosedLoop:
    """Closed-loop clients per tenant: each sends again as soon as it is answered.

    Admitted requests take SERVICE_S; events run in time order on a fake clock.
    """

    queue: AdmissionQueue
    clients: dict[int, int]  # tenant -> connections
    served: dict[int, int] = field(default_factory=dict)
    waits: dict[int, list[float]] = field(default_factory=dict)
    refused: dict[tuple[int, str], int] = field(default_factory=dict)
    sent: dict[int, int] = field(default_factory=dict)
    events: list[tuple[float, int, str, int]] = field(default_factory=list)
    order: int = 0
    timeout: float | None = None  # every request's deadline, after its send
    gap: float = 0.0  # from an answer to the client's next send (network, client)

    def push(self, when: float, kind: str, tenant: int) -> None:
        self.order += 1
        heapq.heappush(self.events, (when, self.order, kind, tenant))

    def record(self, decisions: Decisions, now: float) -> None:
        for ticket in decisions.admit:
            self.served[ticket.tenant] = self.served.get(ticket.tenant, 0) + 1
            self.waits.setdefault(ticket.tenant, []).append(now - ticket.arrived)
            self.push(now + SERVICE_S, "finish", ticket.tenant)
        for ticket, reason in decisions.refuse:
            key = (ticket.tenant, reason)
            self.refused[key] = self.refused.get(key, 0) + 1
            self.push(now, "send", ticket.tenant)  # sends again at once
        # Past the limit only by what tenants under their share took at once.
        assert self.queue.in_flight <= 2 * self.queue.limit
        due = self.queue.next_deadline(now)
        if due is not None:
            self.push(max(due, now + 0.001), "tick", -1)

    def run(
        self,
        seconds: float,
        stop: dict[int, float] | None = None,
        paced: dict[int, float] | None = None,
    ) -> None:
        """Run; a tenant in ``stop`` sends nothing more after that time; one in
        ``paced`` sends at that rate whatever the answers (open loop) instead.
        """
        for tenant, count in self.clients.items():
            for _ in range(count):
                self.push(0.0, "send", tenant)
        for tenant, rate in (paced or {}).items():
            for i in range(int(rate * seconds)):
                self.push(i / rate, "paced", tenant)
        self.advance(seconds, seconds, stop, paced)

    def advance(
        self,
        until: float,
        seconds: float,
        stop: dict[int, float] | None = None,
        paced: dict[int, float] | None = None,
    ) -> None:
        """Run the events before ``until`` (``run``'s arguments)."""
        while self.events and self.events[0][0] < until:
            now, _, kind, tenant = heapq.heappop(self.events)
            if kind == "tick":
                self.record(self.queue.tick(now), now)
                continue
            if kind == "finish":
                self.record(self.queue.finish(now, tenant), now)
                if tenant in (paced or {}):
                    continue
                if self.gap:
                    self.push(now + self.gap, "send", tenant)
                    continue
                kind = "send"
            if kind == "send" and tenant in (paced or {}):
                continue  # a paced tenant does not send again when refused
            if now < (stop or {}).get(tenant, seconds):
                self.sent[tenant] = self.sent.get(tenant, 0) + 1
                deadline = None if self.timeout is None else now + self.timeout
                ticket = Ticket(now, tenant=tenant, deadline=deadline)
                self.record(self.queue.arrive(ticket, now), now)

    def rate(self, tenant: int, seconds: float) -> float:
        return self.served.get(tenant, 0) / seconds


def two_tenants(*weights: float) -> AdmissionQueue:
    shares = [Share(weight) for weight in weights]
    return AdmissionQueue(LIMIT, BUDGET, REFUSE_AFTER, MAX_QUEUE, tenants=shares)


def test_a_polite_tenant_keeps_what_it_asks_beside_a_thousand_connections() -> None:
    capacity, seconds = LIMIT / SERVICE_S, 5.0
    asked = capacity / 4  # tenant 1 sends a quarter of capacity, paced
    sim = ClosedLoop(two_tenants(1, 1), {0: 1000})
    sim.run(seconds, paced={1: asked})
    assert sim.served[1] >= 0.95 * sim.sent[1], "B gets what it asks for"
    assert max(sim.waits[1]) <= SERVICE_S, "B waits for one free slot at most"
    total = sim.rate(0, seconds) + sim.rate(1, seconds)
    assert total >= 0.95 * capacity, "A gets the rest: the model stays busy"
    assert not any(reason for (tenant, reason) in sim.refused if tenant == 1)
    assert sim.refused.get((0, "over_share"), 0) > 0, "A's refusals are 429s"


@pytest.mark.parametrize("weights", [(1, 1), (3, 1), (1, 4)])
def test_saturating_tenants_split_the_capacity_by_weight(
    weights: tuple[float, float],
) -> None:
    sim = ClosedLoop(two_tenants(*weights), {0: 200, 1: 200})
    sim.run(4.0)
    ratio = sim.served[0] / sim.served[1]
    assert ratio == pytest.approx(weights[0] / weights[1], rel=0.02)
    assert sim.served[0] + sim.served[1] >= 0.95 * LIMIT / SERVICE_S * 4.0


def test_what_a_tenant_leaves_unused_goes_to_the_busy_one() -> None:
    capacity, seconds = LIMIT / SERVICE_S, 4.0
    sim = ClosedLoop(two_tenants(1, 1), {0: 200})
    sim.run(seconds, paced={1: capacity / 10})  # 1 uses a tenth: 0 gets the rest
    assert sim.rate(0, seconds) >= 0.85 * capacity, "work-conserving"
    assert sim.served[1] >= 0.95 * sim.sent[1]
    alone = ClosedLoop(two_tenants(1, 1), {0: 200})
    alone.run(seconds)
    assert alone.rate(0, seconds) >= 0.95 * capacity, "alone it gets everything"


def test_a_request_queued_past_its_deadline_is_refused_never_admitted() -> None:
    queue = new_queue()
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    late = Ticket(0.0, deadline=0.2)
    patient = Ticket(0.0)
    queue.arrive(late, 0.0)
    queue.arrive(patient, 0.0)
    assert queue.next_deadline(0.0) == pytest.approx(0.2)
    decisions = queue.tick(0.2)
    assert decisions.refuse == [(late, "deadline")]
    assert queue.finish(0.25).admit == [patient]


def test_a_late_request_deeper_in_its_lane_is_skipped_when_its_turn_comes() -> None:
    queue = new_queue()
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    first, late, last = Ticket(0.0), Ticket(0.01, deadline=0.1), Ticket(0.02)
    for ticket in (first, late, last):
        queue.arrive(ticket, ticket.arrived)
    assert queue.finish(0.05).admit == [first]
    decisions = queue.finish(0.15)
    assert decisions.refuse == [(late, "deadline")] and decisions.admit == [last]


def test_a_deadline_the_expected_wait_cannot_meet_is_refused_at_arrival() -> None:
    queue = new_queue()
    queue.service.per_s = LIMIT / SERVICE_S  # measured: 400/s
    for _ in range(LIMIT + 40):  # 40 waiting: 0.1 s of work ahead
        queue.arrive(Ticket(0.0), 0.0)
    hopeless, hopeful = Ticket(0.0, deadline=0.05), Ticket(0.0, deadline=0.5)
    assert queue.arrive(hopeless, 0.0).refuse == [], "held, not answered at once"
    assert queue.arrive(hopeful, 0.0).refuse == []
    assert queue.next_deadline(0.0) == pytest.approx(0.05)
    assert queue.tick(0.04).refuse == []
    assert queue.tick(0.05).refuse == [(hopeless, "deadline")], "at its deadline"
    assert hopeless not in queue.waiting and hopeful in queue.waiting


def test_a_held_deadline_refusal_waits_at_most_refuse_after() -> None:
    queue = new_queue()
    queue.service.per_s = 1.0  # 40 waiting: 40 s of work ahead
    for _ in range(LIMIT + 40):
        queue.arrive(Ticket(0.0), 0.0)
    patient = Ticket(0.0, deadline=30.0)
    assert queue.arrive(patient, 0.0).refuse == []
    assert queue.tick(REFUSE_AFTER - 0.01).refuse == []
    assert (patient, "deadline") in queue.tick(REFUSE_AFTER).refuse


def test_held_deadline_refusals_are_bounded_by_max_queue() -> None:
    queue = new_queue(max_queue=45)
    queue.service.per_s = LIMIT / SERVICE_S
    for _ in range(LIMIT + 40):
        queue.arrive(Ticket(0.0), 0.0)
    hopeless = [Ticket(0.0, deadline=0.05 - i / 1000) for i in range(50)]
    at_once = [t for h in hopeless for t, _ in queue.arrive(h, 0.0).refuse]
    assert len(queue.held) == 45
    assert at_once == hopeless[-5:], "the soonest due, answered at once"


def test_a_client_gone_while_its_refusal_is_held_counts_as_disconnected() -> None:
    queue = new_queue()
    queue.service.per_s = LIMIT / SERVICE_S
    for _ in range(LIMIT + 40):
        queue.arrive(Ticket(0.0), 0.0)
    client = {"gone": False}
    leaving = Ticket(0.0, deadline=0.05, gone=lambda: client["gone"])
    queue.arrive(leaving, 0.0)
    client["gone"] = True
    assert queue.tick(0.05).refuse == [(leaving, "disconnected")]


def test_deadlines_at_four_times_capacity_admit_nothing_late() -> None:
    sim = Simulation()
    capacity, deadline = LIMIT / SERVICE_S, 0.2
    step, now = 1 / (4 * capacity), 0.0
    admitted_late = 0
    while now < 3.0:
        while sim.finishing and sim.finishing[0] <= now:
            done = sim.finishing.pop(0)
            sim.record(sim.queue.finish(done), done)
        decisions = sim.queue.arrive(Ticket(now, deadline=now + deadline), now)
        admitted_late += sum(now > t.deadline for t in decisions.admit if t.deadline)
        sim.record(decisions, now)
        sim.arrivals += 1
        now += step
    assert admitted_late == 0
    assert max(sim.admitted_waits) <= deadline
    assert len(sim.admitted_waits) >= 0.9 * capacity * 3.0, "the model stays busy"
    assert sim.refused.get("deadline", 0) > 0


def test_closed_loop_clients_with_deadlines_are_served_not_refused_in_a_storm() -> None:
    capacity, deadline, seconds = LIMIT / SERVICE_S, 0.2, 4.0
    clients = round(4 * capacity * deadline)  # 4x what one deadline's worth serves
    queue = new_queue()
    queue.service.per_s = capacity  # measured
    sim = ClosedLoop(queue, {0: clients}, timeout=deadline)
    sim.run(seconds)
    assert sim.rate(0, seconds) >= 0.95 * capacity, "the model stays busy"
    assert max(sim.waits[0]) <= deadline
    refused = sum(sim.refused.values())
    # Each refusal is answered at its client's deadline: a client is refused at
    # most once per deadline, never in a loop of instant refusals.
    assert 0 < refused <= clients * seconds / deadline
    assert set(sim.refused) == {(0, "deadline")}


def test_a_client_gone_while_queued_is_never_admitted() -> None:
    queue = new_queue()
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    client = {"gone": False}
    left = Ticket(0.0, gone=lambda: client["gone"])
    stays = Ticket(0.0)
    queue.arrive(left, 0.0)
    queue.arrive(stays, 0.0)
    client["gone"] = True
    decisions = queue.finish(0.01)
    assert decisions.refuse == [(left, "disconnected")]
    assert decisions.admit == [stays]


def test_a_tenant_over_its_rate_gets_429_at_once() -> None:
    queue = AdmissionQueue(
        LIMIT, BUDGET, REFUSE_AFTER, MAX_QUEUE, tenants=[Share(rate_per_s=2.0)]
    )
    reasons = [queue.arrive(Ticket(0.0), 0.0).refuse for _ in range(3)]
    assert reasons[:2] == [[], []]
    assert [reason for _, reason in reasons[2]] == ["rate_limited"]


def test_a_tenants_concurrency_cap_leaves_the_rest_to_the_others() -> None:
    queue = AdmissionQueue(
        LIMIT,
        BUDGET,
        REFUSE_AFTER,
        MAX_QUEUE,
        tenants=[Share(max_in_flight=1), Share()],
    )
    capped = [Ticket(0.0, tenant=0) for _ in range(3)]
    admitted = [t for c in capped for t in queue.arrive(c, 0.0).admit]
    assert admitted == capped[:1]
    other = Ticket(0.0, tenant=1)
    assert queue.arrive(other, 0.0).admit == [other]
    assert queue.finish(0.01, tenant=0).admit == [capped[1]]


def test_a_tenant_under_its_share_goes_in_at_once_even_at_the_limit() -> None:
    queue = two_tenants(1, 1)
    for _ in range(LIMIT + 3):  # tenant 0 fills every slot and waits for more
        queue.arrive(Ticket(0.0, tenant=0), 0.0)
    polite = [Ticket(0.0, tenant=1) for _ in range(3)]
    admitted = [t for p in polite for t in queue.arrive(p, 0.0).admit]
    assert admitted == polite[: LIMIT // 2], "up to its share, without a slot freeing"
    assert queue.in_flight == LIMIT + LIMIT // 2
    assert queue.finish(0.01, tenant=0).admit == [], "the limit holds for the rest"


def test_a_deadline_leaves_room_for_the_time_inside_the_service() -> None:
    queue = new_queue()
    queue.service.per_s = LIMIT / SERVICE_S  # measured: 400/s, so 10 ms inside
    for _ in range(LIMIT):
        queue.arrive(Ticket(0.0), 0.0)
    tight = Ticket(0.0, deadline=0.105)
    queue.arrive(tight, 0.0)
    decisions = queue.finish(0.1)  # 5 ms left: less than the 10 ms inside
    assert decisions.refuse == [] and decisions.admit == [], "never let in"
    assert queue.tick(0.105).refuse == [(tight, "deadline")], "answered at its deadline"


def saturated_queue(
    target: float, limit: int = 64, min_limit: int = 4
) -> AdmissionQueue:
    """A queue sized by time whose clients keep it full (one more always waits)."""
    queue = AdmissionQueue(
        limit, BUDGET, REFUSE_AFTER, MAX_QUEUE, target=target, min_limit=min_limit
    )
    for _ in range(limit + 1):
        queue.arrive(Ticket(0.0), 0.0)
    return queue


def finish_at(queue: AdmissionQueue, rate: float, seconds: float) -> None:
    """Answer one request every 1/rate s for ``seconds``; each sends another."""
    for i in range(1, int(rate * seconds) + 1):
        now = i / rate
        queue.finish(now)
        queue.arrive(Ticket(now), now)


def test_the_limit_follows_the_service_rate_when_sized_by_time() -> None:
    queue = saturated_queue(target=0.01)
    assert queue.limit == 64, "the ceiling until the rate is measured"
    finish_at(queue, rate=2_000, seconds=2)
    assert queue.limit == 20, "2,000/s x 10 ms"
    assert queue.in_flight <= 64


def test_the_sized_limit_stays_within_its_floor_and_ceiling() -> None:
    slow = saturated_queue(target=0.01, min_limit=8)
    finish_at(slow, rate=100, seconds=3)
    assert slow.limit == 8, "100/s x 10 ms is 1: the floor"
    fast = saturated_queue(target=0.1)
    finish_at(fast, rate=2_000, seconds=2)
    assert fast.limit == 64, "2,000/s x 100 ms is 200: the ceiling"


def test_without_a_target_the_limit_is_fixed() -> None:
    queue = saturated_queue(target=0.0)
    finish_at(queue, rate=2_000, seconds=2)
    assert queue.service.per_s is not None
    assert queue.limit == 64


def test_reweighed_lanes_split_by_their_new_weights() -> None:
    queue = two_tenants(1, 1)
    queue.reweigh([3.0, 1.0])
    sim = ClosedLoop(queue, {0: 200, 1: 200})
    sim.run(4.0)
    assert sim.served[0] / sim.served[1] == pytest.approx(3.0, rel=0.02)
    queue.reweigh([1.0, 1.0])
    assert [lane.weight for lane in queue.lanes] == [1.0, 1.0]


def test_reweighing_caps_credit_earned_at_the_old_weights() -> None:
    queue = two_tenants(1, 1)
    queue.lanes[0].deficit = 500.0  # a long turn at a weight it no longer has
    queue.reweigh([2.0, 1.0])
    assert [lane.quantum for lane in queue.lanes] == [2.0, 1.0]
    assert queue.lanes[0].deficit == 2.0

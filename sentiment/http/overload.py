"""The overload policy: which waiting request goes in, which is held, which refused.

Pure logic, the clock passed in, so it is tested on a fake clock;
:class:`sentiment.http.admission.Admission` is the ASGI layer that runs it. The
rules and why they were chosen are in :mod:`sentiment.http.admission` and
docs/overload.md.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

REFUSAL_REASONS = ("expected_wait", "missed_budget", "waited_too_long", "queue_full")


@dataclass
class Ticket:
    """One request waiting for admission."""

    arrived: float
    future: asyncio.Future[bool] | None = None  # None in the queue's unit tests


@dataclass
class Decisions:
    """What to do after an event: these tickets go in, these get a 503."""

    admit: list[Ticket] = field(default_factory=list)
    refuse: list[tuple[Ticket, str]] = field(default_factory=list)


class TokenBucket:
    """At most ``rate`` events a second, ``burst`` at once. Times in seconds."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at: float | None = None

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self.refill(now)
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last call."""
        if self.at is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def next_token_at(self, now: float) -> float | None:
        """When the next token comes (None: never, the rate is 0)."""
        self.refill(now)
        if self.tokens >= 1:
            return now
        return None if self.rate <= 0 else now + (1 - self.tokens) / self.rate


class ServiceRate:
    """Requests a second the worker finishes while saturated (EWMA of windows).

    Only windows in which a request was waiting at every finish count: below
    capacity the finish rate measures the arrivals, not what the model can do.
    """

    WINDOW_S = 0.5
    WEIGHT = 0.5

    def __init__(self) -> None:
        self.per_s: float | None = None
        self.window_start: float | None = None
        self.finished = 0
        self.saturated = True

    def finish(self, now: float, waiting: bool) -> bool:
        """One request finished; ``waiting``: others were queued behind it.

        Returns:
            Whether the estimate changed.
        """
        if self.window_start is None:
            self.window_start, self.finished, self.saturated = now, 0, True
        self.finished += 1
        self.saturated = self.saturated and waiting
        elapsed = now - self.window_start
        if elapsed < self.WINDOW_S:
            return False
        self.window_start = None
        if self.saturated:
            measured = self.finished / elapsed
            self.per_s = (
                measured
                if self.per_s is None
                else self.WEIGHT * measured + (1 - self.WEIGHT) * self.per_s
            )
        return self.saturated


class AdmissionQueue:
    """Which waiting requests go in, wait, or get refused. Times in seconds.

    Args:
        limit: most requests inside the service at once.
        budget: the longest a request may have waited and still be admitted.
        refuse_after: when a request that missed the budget gets its 503 at the
            latest (back-pressure when quick refusals run out).
        max_queue: most waiting requests; beyond it the oldest is refused.
        quick_share: 503s answered as soon as they are known, as a share of the
            measured service rate (1.0: one quick refusal per request served).
    """

    def __init__(
        self,
        limit: int,
        budget: float,
        refuse_after: float,
        max_queue: int,
        quick_share: float = 0.0,
    ) -> None:
        self.limit = limit
        self.budget = budget
        self.refuse_after = max(refuse_after, budget)
        self.max_queue = max_queue
        self.in_flight = 0
        self.waiting: deque[Ticket] = deque()
        self.quick_share = quick_share
        self.quick = TokenBucket(0.0, 0.0)
        self.service = ServiceRate()

    def arrive(self, ticket: Ticket, now: float) -> Decisions:
        """A request arrives: in at once if there is room and nobody waits.

        When the queue ahead of it already holds more than the budget's worth of
        work (Little's law with the measured service rate), it is refused at
        once while quick refusals last; otherwise it waits.
        """
        decisions = self.expire(now)
        if self.in_flight < self.limit and not self.waiting:
            self.in_flight += 1
            decisions.admit.append(ticket)
            return decisions
        if self.expected_wait(now) > self.budget and self.quick.take(now):
            decisions.refuse.append((ticket, "expected_wait"))
            return self.fill(decisions, now)
        self.waiting.append(ticket)
        while len(self.waiting) > self.max_queue:
            decisions.refuse.append((self.waiting.popleft(), "queue_full"))
        return self.fill(decisions, now)

    def expected_wait(self, now: float) -> float:
        """Seconds a request arriving now would wait (0 until the rate is known)."""
        rate = self.service.per_s
        if not rate or not self.waiting:
            return 0.0
        ahead = len(self.waiting) - self.first_within_budget(now)
        return (ahead + 1) / rate

    def finish(self, now: float) -> Decisions:
        """An admitted request was answered: let the next ones in."""
        self.in_flight -= 1
        if self.service.finish(now, bool(self.waiting)):
            self.pace_quick_refusals(now)
        return self.tick(now)

    def pace_quick_refusals(self, now: float) -> None:
        """Quick refusals follow the service rate: their CPU stays a fixed share."""
        rate = self.quick_share * (self.service.per_s or 0.0)
        self.quick.refill(now)
        self.quick.rate, self.quick.burst = rate, max(1.0, rate / 10) if rate else 0.0

    def tick(self, now: float) -> Decisions:
        """Refuse the requests whose time has come; admit while there is room."""
        return self.fill(self.expire(now), now)

    def fill(self, decisions: Decisions, now: float) -> Decisions:
        """Admit waiting requests within the budget while there is room."""
        while self.in_flight < self.limit:
            ticket = self.next_within_budget(now)
            if ticket is None:
                break
            self.in_flight += 1
            decisions.admit.append(ticket)
        return decisions

    def next_deadline(self, now: float) -> float | None:
        """When the oldest waiting request is next due a decision (None: nobody)."""
        if not self.waiting:
            return None
        head = self.waiting[0].arrived
        forced = head + self.refuse_after
        missed = head + self.budget
        if missed > now:
            return min(forced, missed)
        quick = self.quick.next_token_at(now)
        return forced if quick is None else min(forced, quick)

    def next_within_budget(self, now: float) -> Ticket | None:
        """Take the oldest waiting request that has not waited past the budget.

        The queue is in arrival order, so those within the budget are its newest
        part; the older ones stay held until :meth:`expire` refuses them.
        """
        if not self.waiting or now - self.waiting[-1].arrived > self.budget:
            return None
        if now - self.waiting[0].arrived <= self.budget:
            return self.waiting.popleft()
        index = self.first_within_budget(now)
        ticket = self.waiting[index]
        del self.waiting[index]
        return ticket

    def first_within_budget(self, now: float) -> int:
        """Index of the oldest request within the budget (binary search).

        ``len(self.waiting)`` when every waiting request is past it.
        """
        low, high = 0, len(self.waiting)
        while low < high:
            middle = (low + high) // 2
            if now - self.waiting[middle].arrived <= self.budget:
                high = middle
            else:
                low = middle + 1
        return low

    def expire(self, now: float) -> Decisions:
        """Refuse the requests past the budget.

        At once while quick refusals last; else at ``refuse_after`` (held: their
        clients wait instead of sending again).
        """
        decisions = Decisions()
        waiting = self.waiting
        while waiting and now - waiting[0].arrived >= self.refuse_after:
            decisions.refuse.append((waiting.popleft(), "waited_too_long"))
        while (
            waiting and now - waiting[0].arrived > self.budget and self.quick.take(now)
        ):
            decisions.refuse.append((waiting.popleft(), "missed_budget"))
        return decisions

    def oldest_wait(self, now: float) -> float:
        """Seconds the oldest waiting request has waited (0 when none waits)."""
        return now - self.waiting[0].arrived if self.waiting else 0.0

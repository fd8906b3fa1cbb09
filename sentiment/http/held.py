"""Refusals decided now and answered later: held until the client's time is spent.

A request whose deadline the queue cannot meet is refused at once, but its 504
is sent at the deadline (at most ``refuse_after`` after it arrived): the client
stopped waiting then anyway, and a closed-loop client answered at once sends
its next request at once. Answered at once, 1,024 connections with 200 ms
deadlines made the workers spend their loops on refusals (103k in 10 s) and
served 0.01-0.3x capacity. Pure logic, the clock passed in.
"""

from __future__ import annotations

import heapq
import itertools

from sentiment.http.lanes import Ticket


class HeldRefusals:
    """Refused requests and when each is answered, soonest first (a heap)."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, Ticket, str]] = []
        self.order = itertools.count()  # ties keep arrival order

    def __len__(self) -> int:
        return len(self.heap)

    def hold(self, ticket: Ticket, reason: str, until: float) -> None:
        """Answer ``ticket`` with ``reason`` at ``until``."""
        heapq.heappush(self.heap, (until, next(self.order), ticket, reason))

    def due(self, now: float) -> list[tuple[Ticket, str]]:
        """Take out the refusals whose time has come (a disconnected client's too)."""
        out: list[tuple[Ticket, str]] = []
        heap = self.heap
        while heap and heap[0][0] <= now:
            _, _, ticket, reason = heapq.heappop(heap)
            gone = ticket.gone is not None and ticket.gone()
            out.append((ticket, "disconnected" if gone else reason))
        return out

    def soonest(self) -> tuple[Ticket, str] | None:
        """Take out the refusal due first (to bound memory), or None."""
        if not self.heap:
            return None
        _, _, ticket, reason = heapq.heappop(self.heap)
        return ticket, reason

    def next_at(self) -> float | None:
        """When the next refusal is due (None: none held)."""
        return self.heap[0][0] if self.heap else None

    def withdraw(self, ticket: Ticket) -> bool:
        """Take ``ticket`` out (its task was cancelled); whether it was held."""
        for index, entry in enumerate(self.heap):
            if entry[2] is ticket:
                self.heap[index] = self.heap[-1]
                self.heap.pop()
                heapq.heapify(self.heap)
                return True
        return False

"""How many file jobs one worker has taken on: the cap the edge enforces."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager

JOB_RETRY_AFTER_S = 10  # a 429 for a busy worker: jobs take seconds to minutes


class JobTicket:
    """One job's claim on a worker's slot: the request that started it, its thread."""

    def __init__(self) -> None:
        self.request_open = True
        self.running = False


class JobSlots:
    """The file jobs one worker has taken on, counted for its cap.

    A ticket is taken when a request that starts a job arrives (an upload, a
    retry) and given back when that request has returned *and* its job's thread
    has finished. BentoML runs a submitted job inside the request's own call (the
    response's background task), so the request's return usually ends it; a job
    run by ``POST /classify_file`` that timed out keeps running on its thread and
    keeps the slot until it ends. The thread finds its ticket in a context
    variable (anyio copies the context into the threads it runs). A lock, since
    threads end jobs.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tickets: set[JobTicket] = set()

    def taken(self) -> int:
        """Slots in use now."""
        with self.lock:
            return len(self.tickets)

    def take(self, limit: int) -> JobTicket | None:
        """A ticket, or None when ``limit`` are out."""
        with self.lock:
            if len(self.tickets) >= limit:
                return None
            ticket = JobTicket()
            self.tickets.add(ticket)
            return ticket

    @contextmanager
    def holding(self, ticket: JobTicket) -> Iterator[None]:
        """Make ``ticket`` the one jobs started in this context run under."""
        token = CURRENT_TICKET.set(ticket)
        try:
            yield
        finally:
            CURRENT_TICKET.reset(token)

    def release_edge(self, ticket: JobTicket) -> None:
        """The request that took ``ticket`` has returned."""
        with self.lock:
            ticket.request_open = False
            if not ticket.running:
                self.tickets.discard(ticket)

    def job_started(self) -> JobTicket | None:
        """A job's thread began: it holds its request's ticket until it ends."""
        ticket = CURRENT_TICKET.get()
        if ticket is not None:
            with self.lock:
                ticket.running = True
        return ticket

    def job_ended(self, ticket: JobTicket | None) -> None:
        """A job's thread finished, well or not."""
        if ticket is None:
            return
        with self.lock:
            ticket.running = False
            if not ticket.request_open:
                self.tickets.discard(ticket)


CURRENT_TICKET: contextvars.ContextVar[JobTicket | None] = contextvars.ContextVar(
    "sentiment_job_ticket", default=None
)
SLOTS = JobSlots()

"""Whether this worker is past its capacity: admission refused a request lately.

A leaf. :mod:`sentiment.http.admission` marks the moment it refuses a request
for overload (503, 429 ``over_share``, a deadline's 504; not a tenant's own rate
limit, not a client that left);
the batching dispatcher (:mod:`sentiment.patches`) then runs its batches on the
event loop instead of BentoML's thread. While refusing, the loop never runs out
of work (arrivals do not wait for answers), and a model thread that gives the
GIL back at every numpy call waits for the busy loop to hand it back, many times
a batch; on the loop a batch runs to its end. Otherwise the thread stays: the
loop reads the next requests while a batch runs. A request held in its lane
does not mark: behind a closed-loop flood (held, never refused) batches on the
loop made new connections wait up to 1.6 s to be read (docs/overload.md).
"""

from __future__ import annotations

import time

WINDOW_S = 1.0  # how long one refusal keeps the worker marked


class Pressure:
    """When admission last refused a request (``time.monotonic()``)."""

    def __init__(self) -> None:
        self.marked_at = float("-inf")

    def mark(self, now: float) -> None:
        """A request was refused at ``now`` (an earlier time changes nothing)."""
        self.marked_at = max(self.marked_at, now)

    def on(self, now: float | None = None) -> bool:
        """Whether a request was refused within :data:`WINDOW_S`."""
        now = time.monotonic() if now is None else now
        return now - self.marked_at < WINDOW_S


WORKER = Pressure()  # this worker process's

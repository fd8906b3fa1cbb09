"""What an admitted request carries past the edge: its tenant, deadline, client.

A leaf. The edge (:mod:`sentiment.http.admission`) sets one :class:`Lease` per
admitted model request in a context variable; BentoML runs the API in the same
task, so the batching dispatcher (:mod:`sentiment.batching`) finds it beside the
request's job and leaves out of a batch the request whose deadline has passed or
whose client has gone. The V2 route may tighten the deadline once it has read the
body's ``timeout`` parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Lease:
    """One admitted request, as the batching queue needs to see it.

    Attributes:
        tenant: the configured tenant's name (a bounded metric label, never a key).
        deadline: when its client stops caring, ``time.monotonic()`` seconds;
            None when it named no deadline.
        gone: whether its client has disconnected (None: cannot be told).
        latest: the latest deadline the server allows (``SENTIMENT_TIMEOUT_S``
            after arrival), the clamp of :meth:`tighten`.
        weight: the tenant's weight, for a batch formed when more is queued than
            one batch takes.
    """

    tenant: str
    deadline: float | None = None
    gone: Callable[[], bool] | None = None
    latest: float = float("inf")
    weight: float = 1.0

    def late(self, now: float) -> bool:
        """Whether the deadline has passed at ``now`` (monotonic seconds)."""
        return self.deadline is not None and now >= self.deadline

    def abandoned(self) -> bool:
        """Whether the client disconnected."""
        return self.gone is not None and self.gone()

    def tighten(self, deadline: float) -> None:
        """Keep the earliest of the current deadline, ``deadline`` and ``latest``."""
        deadline = min(deadline, self.latest)
        if self.deadline is None or deadline < self.deadline:
            self.deadline = deadline


CURRENT: ContextVar[Lease | None] = ContextVar("sentiment_lease", default=None)


def current() -> Lease | None:
    """The lease of the request this task serves (None outside admission)."""
    return CURRENT.get()

"""What the admission queue measures and paces by. Pure, the clock passed in.

A token bucket (tenants' rates) and the rate the worker serves at while
saturated, which :mod:`sentiment.http.overload` reads to size its limit and
meet deadlines.
"""

from __future__ import annotations


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

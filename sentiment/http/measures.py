"""What the admission queue measures and paces by. Pure, the clock passed in.

A token bucket (tenants' rates, quick refusals), the rate the worker serves at
while saturated, and a high quantile of the time inside the service, which
:mod:`sentiment.http.overload` reads to size its limit and meet deadlines.
"""

from __future__ import annotations

from collections import deque


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


class ServiceTime:
    """A high quantile of the seconds admitted requests spend inside the service.

    From the queue's decision to the answer's last byte, over the last
    :data:`SAMPLES` answers; recomputed at most every :data:`WINDOW_S` (a sort of
    512 floats), so an answer costs an append. A deadline is met when the wait
    for admission plus this is within it: the mean (Little's law) leaves every
    request slower than the mean late, and under a flood the admitted ones all
    wait until their last call (measured at 2x capacity, 200 ms deadlines: 22%
    of the admitted requests took over 150 ms on the server, the slowest 324 ms).
    """

    SAMPLES = 512
    MIN_SAMPLES = 64
    WINDOW_S = 0.5

    def __init__(self, quantile: float) -> None:
        self.quantile = quantile
        self.samples: deque[float] = deque(maxlen=self.SAMPLES)
        self.seconds: float | None = None
        self.at: float | None = None

    def record(self, now: float, seconds: float) -> None:
        """One admitted request took ``seconds`` inside the service."""
        self.samples.append(seconds)
        if len(self.samples) < self.MIN_SAMPLES:
            return
        if self.at is not None and now - self.at < self.WINDOW_S:
            return
        self.at = now
        ordered = sorted(self.samples)
        self.seconds = ordered[min(len(ordered) - 1, int(self.quantile * len(ordered)))]

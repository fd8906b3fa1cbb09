"""Progress lines for training: each line with the seconds since the start.

A step that runs longer than ``tick_s`` says so every ``tick_s`` seconds, so a
terminal or a CI log never goes quiet for long: the default model's fit takes
about half a minute and each of its five cross-validation folds as long again,
which left a person staring at a still screen for two minutes (issue 44).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

TICK_S = 5.0  # a line at least this often while a step runs


class Progress:
    """Writes ``[  12.3s] message`` lines through ``log``."""

    def __init__(
        self,
        log: Callable[[str], object],
        tick_s: float = TICK_S,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.log = log
        self.tick_s = tick_s
        self.clock = clock
        self.started = clock()
        self.lock = threading.Lock()  # the ticker and the caller write in turn

    def elapsed(self) -> float:
        """Seconds since this progress started."""
        return self.clock() - self.started

    def say(self, message: str) -> None:
        """One line, with the seconds since the start."""
        with self.lock:
            self.log(f"[{self.elapsed():6.1f}s] {message}")

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Say ``what`` starts, then every ``tick_s`` seconds that it still runs."""
        began = self.clock()
        self.say(f"{what} ...")
        done = threading.Event()

        def tick() -> None:
            while not done.wait(self.tick_s):
                self.say(f"  {what}: {self.clock() - began:.0f}s so far")

        ticker = threading.Thread(target=tick, name="progress", daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()


def quiet(_: str) -> None:
    """A ``log`` that drops every line."""

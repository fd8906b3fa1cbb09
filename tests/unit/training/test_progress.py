"""Unit tests for sentiment.training.progress: stamped lines, ticks in a step."""

from __future__ import annotations

import threading
from itertools import count

from sentiment.training.progress import Progress


def test_each_line_carries_the_seconds_since_the_start() -> None:
    lines: list[str] = []
    ticks = count()
    progress = Progress(lines.append, clock=lambda: float(next(ticks)) * 1.5)
    progress.say("loaded")
    progress.say("fitted")
    assert lines == ["[   1.5s] loaded", "[   3.0s] fitted"]


def test_a_long_step_says_it_still_runs_until_it_ends() -> None:
    lines: list[str] = []
    ticked = threading.Event()

    def log(line: str) -> None:
        lines.append(line)
        if "so far" in line:
            ticked.set()

    progress = Progress(log, tick_s=0.01)
    with progress.step("fitting"):
        assert ticked.wait(10)  # the step runs until the ticker has spoken
    after = len(lines)
    assert lines[0].endswith("] fitting ...")
    assert all(": " in line and "s so far" in line for line in lines[1:])
    threading.Event().wait(0.05)  # several ticks' worth: the ticker has stopped
    assert len(lines) == after


def test_a_step_that_raises_stops_its_ticker() -> None:
    progress = Progress(lambda _: None, tick_s=0.01)
    before = threading.active_count()
    try:
        with progress.step("failing"):
            raise ValueError("boom")
    except ValueError:
        pass
    assert threading.active_count() == before

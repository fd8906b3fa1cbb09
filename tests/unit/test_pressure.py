"""sentiment.pressure: a refusal marks the worker for a window."""

from __future__ import annotations

from sentiment.pressure import WINDOW_S, Pressure


def test_a_worker_is_under_pressure_for_a_window_after_a_refusal() -> None:
    pressure = Pressure()
    assert pressure.on(100.0) is False, "nothing refused yet"
    pressure.mark(100.0)
    assert pressure.on(100.0 + WINDOW_S / 2) is True
    assert pressure.on(100.0 + WINDOW_S) is False, "the window has passed"


def test_an_older_mark_does_not_erase_a_newer_one() -> None:
    pressure = Pressure()
    pressure.mark(100.0)
    pressure.mark(90.0)  # a request that arrived earlier, refused later
    assert pressure.marked_at == 100.0

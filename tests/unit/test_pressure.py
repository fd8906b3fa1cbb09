"""sentiment.pressure: a hold or refusal marks the worker for a window."""

from __future__ import annotations

from sentiment.pressure import WINDOW_S, Pressure


def test_a_worker_is_under_pressure_for_a_window_after_a_refusal() -> None:
    pressure = Pressure()
    assert pressure.on(100.0) is False, "nothing refused yet"
    pressure.mark(100.0)
    assert pressure.on(100.0 + WINDOW_S / 2) is True
    assert pressure.on(100.0 + WINDOW_S) is False, "the window has passed"

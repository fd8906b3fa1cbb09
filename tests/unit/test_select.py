"""Unit tests for bench.select: the rule (fast enough, as accurate, behaves best)
and the alternating speed timings."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from bench.select import REFERENCE, Result, pick, time_alternately
from sentiment.training.behaviour import HEADLINE


def result(name: str, accuracy: float, speed: float, behaves: float) -> Result:
    return Result(
        name=name,
        params={},
        accuracy_mean=accuracy,
        accuracy_std=0.003,
        fold_accuracies=[accuracy],
        per_s_batch1=speed / 10,
        per_s_batch128=speed,
        artifact_mb=1.0,
        behaviour=dict.fromkeys(HEADLINE, behaves),
    )


def test_the_best_behaved_within_the_references_spread_wins() -> None:
    results = [
        result(REFERENCE, 0.7926, 40_000, 0.5),
        result("behaves, a little less accurate", 0.7900, 12_000, 0.9),
        result("behaves better, too inaccurate", 0.7890, 12_000, 0.95),
        result("behaves best, too slow", 0.80, 9_000, 1.0),
        result("more accurate, behaves less", 0.80, 20_000, 0.7),
    ]
    assert pick(results).name == "behaves, a little less accurate"


def test_without_behaviour_the_reference_stays() -> None:
    reference = result(REFERENCE, 0.7926, 40_000, 0.5)
    other = result("no suite run", 0.80, 40_000, 0.9)
    other.behaviour = {}
    assert pick([reference, other]) is reference


def recording(name: str, calls: list[tuple[str, int]]) -> Callable[[list[str]], None]:
    def predict(texts: list[str]) -> None:
        calls.append((name, len(texts)))

    return predict


def test_models_are_timed_in_turn_round_after_round() -> None:
    calls: list[tuple[str, int]] = []
    predicts = {name: recording(name, calls) for name in ("a", "b", "c")}
    speeds = time_alternately(predicts, ["x"] * 50, 8, rounds=3, seconds=0.001)
    turns = [name for name, _ in itertools.groupby(name for name, _ in calls)]
    assert turns == ["a", "b", "c"] * 4  # a warm-up turn, then 3 rounds
    assert {size for _, size in calls} == {8}
    assert set(speeds) == {"a", "b", "c"}
    assert all(speed > 0 for speed in speeds.values())

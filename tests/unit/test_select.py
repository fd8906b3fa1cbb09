"""Unit tests for bench.select's rule: fast enough, as accurate, behaves best."""

from __future__ import annotations

from bench.select import REFERENCE, Result, pick
from sentiment.behaviour import HEADLINE


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

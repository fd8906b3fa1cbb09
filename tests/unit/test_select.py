"""Unit tests for bench.select: the rule (non-inferior by paired tests, then
behaviour, then speed) and the alternating speed timings."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from bench import select
from bench.select import Result, paired, paired_table, pick, time_alternately
from sentiment.training.behaviour import HEADLINE


def result(
    name: str,
    folds: list[float],
    speed: float,
    behaves: float,
    slice_correct: str = "1" * 90 + "0" * 10,
) -> Result:
    return Result(
        name=name,
        params={},
        accuracy_mean=float(np.mean(folds)),
        accuracy_std=float(np.std(folds)),
        fold_accuracies=folds,
        per_s_batch1=speed / 10,
        per_s_batch128=speed,
        artifact_mb=1.0,
        behaviour=dict.fromkeys(HEADLINE, behaves),
        slice_accuracy=slice_correct.count("1") / len(slice_correct),
        slice_correct=slice_correct,
    )


BEST_FOLDS = [0.795, 0.798, 0.792, 0.797, 0.793]


def test_better_behaviour_cannot_buy_a_loss_the_folds_show() -> None:
    # 1.4 points lower on every fold: the paired test sees it, behaviour or not.
    worse = [a - 0.014 for a in BEST_FOLDS]
    results = [
        result("most accurate", BEST_FOLDS, 20_000, 0.7),
        result("behaves best, less accurate", worse, 20_000, 0.95),
    ]
    assert pick(results).name == "most accurate"
    pair = paired(results[1], results[0])
    assert pair.cv_p_worse < 0.05 and not pair.non_inferior


def test_a_loss_on_the_slice_alone_also_counts() -> None:
    # The same folds, but 12 slice reviews only the best gets right, none the other way.
    worse_slice = "1" * 78 + "0" * 22
    results = [
        result("most accurate", BEST_FOLDS, 20_000, 0.7),
        result("same folds, worse slice", BEST_FOLDS, 20_000, 0.95, worse_slice),
    ]
    pair = paired(results[1], results[0])
    assert (pair.slice_b, pair.slice_c) == (12, 0) and pair.slice_p_worse < 0.05
    assert pick(results).name == "most accurate"


def test_among_the_non_inferior_behaviour_then_speed_decide() -> None:
    noisy = [0.797, 0.792, 0.796, 0.791, 0.797]  # a bit lower, inside the noise
    results = [
        result("most accurate", BEST_FOLDS, 20_000, 0.7),
        result("behaves, as accurate, slower", noisy, 15_000, 0.9),
        result("behaves alike, faster", noisy, 25_000, 0.9),
        result("behaves best, too slow", BEST_FOLDS, 9_000, 1.0),
    ]
    assert paired(results[1], results[0]).non_inferior
    assert pick(results).name == "behaves alike, faster"


def test_the_paired_table_names_every_candidate_and_its_difference() -> None:
    results = [
        result("most accurate", BEST_FOLDS, 20_000, 0.7),
        result("lower", [a - 0.01 for a in BEST_FOLDS], 20_000, 0.9),
    ]
    table = "\n".join(paired_table(results))
    assert "| lower | -0.0100 |" in table and "| no |" in table
    assert "| most accurate | +0.0000 |" in table and "| yes |" in table


def test_without_behaviour_the_most_accurate_stays() -> None:
    best = result("most accurate", BEST_FOLDS, 40_000, 0.5)
    other = result("no suite run", BEST_FOLDS, 40_000, 0.9)
    other.behaviour = {}
    assert pick([best, other]) is best


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


def test_runs_made_in_chunks_merge_into_one_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setattr(select, "RESULTS_DIR", tmp_path)
    best = result("most accurate", BEST_FOLDS, 20_000, 0.7)
    other = result("other", [a - 0.001 for a in BEST_FOLDS], 20_000, 0.9)
    for prefix, results in (("a", [best]), ("b", [best, other])):
        report = {"folds": 5, "results": [asdict(r) for r in results]}
        (tmp_path / f"{prefix}.json").write_text(json.dumps(report))
    assert select.main(["--merge", "a", "b", "--prefix", "joined"]) == 0
    joined = json.loads((tmp_path / "joined.json").read_text())
    assert [r["name"] for r in joined["results"]] == ["most accurate", "other"]
    assert "| other |" in (tmp_path / "joined.md").read_text()

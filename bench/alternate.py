"""Measurements taken in turn, round after round, and their medians.

What ``bench.oip`` (two endpoints), ``bench.shadow`` (two servers) and
``bench.select`` (every candidate model, in process) share: the machine's noise
hits every side of a comparison when their runs alternate.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from bench.run import write_report
from devtools.wrk import run_wrk, summarise

Target = tuple[str, Path]  # URL to post to, wrk bodies file
Runs = dict[str, list[dict[str, Any]]]
T = TypeVar("T")


def in_turn(measures: Mapping[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """Each measure once per round, in the same order every round; results by name."""
    results: dict[str, list[T]] = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            results[name].append(measure())
    return results


def alternate(
    targets: dict[str, Target], rounds: int, seconds: float, connections: int
) -> Runs:
    """Warm every target, then one wrk run each per round; the summaries by name."""
    for url, bodies in targets.values():
        run_wrk(url, bodies, connections, 3)

    def wrk_run(url: str, bodies: Path) -> Callable[[], dict[str, Any]]:
        return lambda: summarise(run_wrk(url, bodies, connections, seconds), 1)

    return in_turn({name: wrk_run(*target) for name, target in targets.items()}, rounds)


def medians(runs: Runs) -> dict[str, float]:
    """The median req/s of each target's runs."""
    return {
        name: statistics.median(r["req_per_s"] for r in rows)
        for name, rows in runs.items()
    }


def main(
    name: str,
    description: str,
    measure: Callable[[int, float, Path], dict[str, Any]],
    markdown: Callable[[dict[str, Any]], str],
    argv: list[str] | None,
) -> int:
    """``--rounds``/``--duration``, measure in a scratch dir, write bench/NAME.*."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as scratch:
        report = measure(args.rounds, args.duration, Path(scratch))
    print(write_report(name, report, markdown))
    return 0

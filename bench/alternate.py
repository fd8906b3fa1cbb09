"""Two wrk targets measured in turn, round after round, and their medians.

What ``bench.oip`` (two endpoints) and ``bench.shadow`` (two servers) share: the
machine's noise hits both sides of a comparison when their runs alternate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.run import BENCH_DIR
from devtools.wrk import run_wrk, summarise

Target = tuple[str, Path]  # URL to post to, wrk bodies file
Runs = dict[str, list[dict[str, Any]]]


def alternate(
    targets: dict[str, Target], rounds: int, seconds: float, connections: int
) -> Runs:
    """Warm every target, then one wrk run each per round; the summaries by name."""
    for url, bodies in targets.values():
        run_wrk(url, bodies, connections, 3)
    runs: Runs = {name: [] for name in targets}
    for _ in range(rounds):
        for name, (url, bodies) in targets.items():
            raw = run_wrk(url, bodies, connections, seconds)
            runs[name].append(summarise(raw, 1))
    return runs


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
    (BENCH_DIR / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (BENCH_DIR / f"{name}.md").write_text(markdown(report))
    print(markdown(report))
    return 0

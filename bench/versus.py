"""The served path of two source trees, timed in turn on one core.

Usage::

    git archive <commit> sentiment | tar -x -C /tmp/old
    python -m bench.versus --old /tmp/old --old-model a.joblib --new-model b.joblib

Each tree scores its own model in a worker process pinned to one core
(``taskset -c 0``), loaded through that tree's ``sentiment`` package (a pickle
names classes by module path, so each side runs its own code), as the service
calls it (``scorer(speed_up_inference(pipeline))``). The workers take turns, round
after round, at each batch size; the medians and their ratio are printed and
written as JSON. A comparison of code across commits, so no import of either tree
here.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "rotten_tomatoes_reviews.csv.gz"
WORKER = r"""
import sys, time, joblib, pandas as pd
from sentiment.model.scorer import scorer, speed_up_inference
predict = scorer(speed_up_inference(joblib.load(sys.argv[1])))
texts = list(pd.read_csv(sys.argv[2])["text"].astype(str))[:4096]
print("ready", flush=True)
for line in sys.stdin:
    batch, seconds = int(line.split()[0]), float(line.split()[1])
    done, offset, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        predict(texts[offset : offset + batch])
        offset = (offset + batch) % (len(texts) - batch)
        done += batch
    print(done / (time.perf_counter() - start), flush=True)
"""


def worker(tree: Path, model: Path) -> subprocess.Popen[str]:
    """A scoring process of ``tree``'s code on ``model``, pinned to core 0."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    process = subprocess.Popen(
        [*pin, sys.executable, "-c", WORKER, str(model), str(DATA)],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"the worker of {tree} did not start")
    return process


def timed(process: subprocess.Popen[str], batch: int, seconds: float) -> float:
    """One timing: reviews per second at ``batch``."""
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{batch} {seconds}\n")
    process.stdin.flush()
    return float(process.stdout.readline())


def main(argv: list[str] | None = None) -> int:
    """Time both trees in turn; print and write the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the old tree")
    parser.add_argument("--new", type=Path, default=ROOT, help="default: this tree")
    parser.add_argument("--old-model", type=Path, required=True)
    parser.add_argument("--new-model", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/versus.json")
    args = parser.parse_args(argv)
    sides = {"old": (args.old, args.old_model), "new": (args.new, args.new_model)}
    processes = {name: worker(tree, model) for name, (tree, model) in sides.items()}
    report: dict[str, dict[str, list[float]]] = {}
    try:
        for batch in (1, 128):
            for process in processes.values():
                timed(process, batch, 0.3)  # warm
            runs: dict[str, list[float]] = {name: [] for name in processes}
            for _ in range(args.rounds):
                for name, process in processes.items():
                    runs[name].append(timed(process, batch, args.seconds))
            report[str(batch)] = runs
            old, new = (statistics.median(runs[n]) for n in ("old", "new"))
            print(
                f"batch {batch:>3}: old {old:>9,.0f}/s  new {new:>9,.0f}/s  "
                f"new/old {new / old:.2f}x  ({args.rounds} rounds of "
                f"{args.seconds} s, in turn)",
                flush=True,
            )
    finally:
        for process in processes.values():
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=30)
    args.out.write_text(
        json.dumps(
            {
                "sides": {k: [str(p) for p in v] for k, v in sides.items()},
                "runs": report,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

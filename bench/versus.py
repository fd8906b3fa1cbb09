"""The served path of two source trees, timed in turn on one core.

Usage::

    git archive <commit> | tar -x -C /tmp/old
    python -m bench.versus --old /tmp/old --old-model a.joblib --new-model b.joblib
    python -m bench.versus --old /tmp/old --http   # single reviews at 64 connections
    python -m bench.versus --old /tmp/old --http --old-tag sentiment:a --new-tag sentiment:b

Each tree scores its own model in a worker process pinned to one core
(``taskset -c 0``), loaded through that tree's ``sentiment`` package (a pickle
names classes by module path, so each side runs its own code), as the service
calls it (``scorer(speed_up_inference(pipeline))``). The workers take turns, round
after round, at each batch size; the medians and their ratio are printed and
written as JSON. A comparison of code across commits, so no import of either tree
here.

With ``--http``, both trees' ``bentoml serve`` instead, on the production model of
``$BENTOML_HOME`` (or the model each side's ``--*-tag`` pins, as
``SENTIMENT_MODEL_TAG``), and wrk's single reviews at 64 connections on each in turn
(:func:`bench.alternate.alternate`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def served(tree: Path, log: Path, tag: str | None = None) -> Iterator[str]:
    """``tree``'s ``bentoml serve`` on a free port (serving ``tag``); its URL."""
    from ops.servers import bentoml_process

    env = {"PYTHONPATH": str(tree)}  # the tree's own package, not this one's
    if tag:
        env["SENTIMENT_MODEL_TAG"] = tag
    target = "service:SentimentClassifier"
    with bentoml_process(target, log, env, timeout=120, cwd=tree) as (_, url):
        yield url


def http(
    old: Path,
    new: Path,
    rounds: int,
    seconds: float,
    out: Path,
    tags: tuple[str | None, str | None] = (None, None),
) -> int:
    """Single reviews at 64 connections on both trees' servers, in turn."""
    from bench.alternate import alternate, medians
    from devtools.corpus import corpus_reviews
    from devtools.wrk import write_bodies

    with tempfile.TemporaryDirectory(prefix="versus-") as scratch:
        work = Path(scratch)
        bodies = write_bodies(list(corpus_reviews()), 1, work / "bodies.jsonl")
        with (
            served(old, work / "old.log", tags[0]) as a,
            served(new, work / "new.log", tags[1]) as b,
        ):
            runs = alternate(
                {"old": (f"{a}/classify", bodies), "new": (f"{b}/classify", bodies)},
                rounds,
                seconds,
                64,
            )
    median = medians(runs)
    print(
        f"single reviews @64: old {median['old']:,.0f} req/s  new "
        f"{median['new']:,.0f} req/s  new/old {median['new'] / median['old']:.2f}x"
    )
    report = {"trees": [str(old), str(new)], "tags": list(tags), "runs": runs}
    out.write_text(json.dumps(report) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Time both trees in turn; print and write the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="the old tree")
    parser.add_argument("--new", type=Path, default=ROOT, help="default: this tree")
    parser.add_argument("--old-model", type=Path)
    parser.add_argument("--new-model", type=Path)
    parser.add_argument("--http", action="store_true", help="served, over wrk")
    parser.add_argument("--old-tag", help="--http: the model the old tree serves")
    parser.add_argument("--new-tag", help="--http: the model the new tree serves")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/versus.json")
    args = parser.parse_args(argv)
    if args.http:
        tags = (args.old_tag, args.new_tag)
        return http(args.old, args.new, args.rounds, args.seconds, args.out, tags)
    if args.old_model is None or args.new_model is None:
        parser.error("--old-model and --new-model are needed without --http")
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

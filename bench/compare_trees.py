"""Single-tenant overload goodput of two source trees, measured alternately.

A change to admission must not cost the single-tenant case. This serves each
tree's ``service.py`` in turn (same venv, same model, same machine), runs wrk
with single reviews at each connection count, and repeats for ``--rounds``, so
the two trees see the machine's same moments; the ratios come from one run.

Usage: ``python -m bench.compare_trees --base ../main [--rounds 2]``.
Prints one JSON line per point and a table; writes nothing in the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import Any

from bench.overload import closed_loop, raise_file_limit
from devtools.corpus import corpus_reviews
from devtools.servers import PROJECT_DIR, bentoml_process
from devtools.wrk import run_wrk, write_bodies

CONNECTIONS = (64, 256, 1024, 4096)
MODEL_TAG = os.environ.get("SENTIMENT_MODEL_TAG", "sentiment:latest")
SERVICE = "service:SentimentClassifier"


@contextmanager
def serve_tree(tree: Path, work: Path, name: str) -> Iterator[tuple[Any, str]]:
    """Serve ``tree``'s ``bentoml serve``; yield the process and its URL, then stop."""
    env = {"SENTIMENT_MODEL_TAG": MODEL_TAG, "PYTHONPATH": str(tree)}
    log = work / f"{name}.log"
    with bentoml_process(SERVICE, log, env, timeout=120, cwd=tree) as served:
        yield served


def main(argv: list[str] | None = None) -> int:
    """Measure both trees alternately and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other tree")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument(
        "--reviews", type=int, default=1, help="reviews per request (100: bulk)"
    )
    parser.add_argument(
        "--connections",
        type=lambda text: tuple(int(c) for c in text.split(",")),
        default=CONNECTIONS,
        help="comma-separated, e.g. 64 (the first is the ratios' reference)",
    )
    args = parser.parse_args(argv)
    raise_file_limit()
    trees = {"base": args.base.resolve(), "this": PROJECT_DIR}
    results: dict[str, dict[int, list[float]]] = {t: {} for t in trees}
    with tempfile.TemporaryDirectory(prefix="compare-trees-") as tmp:
        work = Path(tmp)
        bodies = write_bodies(
            list(corpus_reviews()), args.reviews, work / "bodies.jsonl"
        )
        for round_ in range(args.rounds):
            order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
            for name in order:
                served = serve_tree(trees[name], work, f"{name}-{round_}")
                with served as (process, url):
                    run_wrk(url, bodies, 16, 3)  # warm-up
                    for c in args.connections:
                        row = closed_loop(url, process.pid, bodies, c, args.duration)
                        results[name].setdefault(c, []).append(row["req_per_s"])
                        print(
                            json.dumps({"tree": name, "round": round_, "c": c, **row})
                        )
                        time.sleep(2)
    print(
        "\n| connections | base goodput | this goodput | this / base | "
        f"x its {args.connections[0]}-conn (base) | x its {args.connections[0]}-conn "
        "(this) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    first = args.connections[0]
    base64, this64 = median(results["base"][first]), median(results["this"][first])
    for c in args.connections:
        b, t = median(results["base"][c]), median(results["this"][c])
        print(
            f"| {c:,} | {b:,.0f} | {t:,.0f} | {t / b:.3f} | {b / base64:.2f} | "
            f"{t / this64:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

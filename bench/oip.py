"""The Open Inference Protocol endpoint against ``/classify``, on one server.

Single reviews at 64 connections; runs alternate between the two endpoints
(``/classify`` then ``/v2/models/sentiment/infer``, round after round) so the
machine's noise hits both; the ratio of the medians is what the V2 translation
costs. Model: ``SENTIMENT_MODEL_TAG`` (default: the production model, else the
newest).

Usage: ``python -m bench.oip [--rounds 3] [--duration 10]`` (part of
``make bench``). Writes ``bench/oip.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.run import BENCH_DIR
from devtools.corpus import corpus_reviews
from devtools.servers import bentoml_serve
from devtools.wrk import run_wrk, summarise, write_bodies

CONNECTIONS = 64
ENDPOINTS = {"/classify": "/classify", "V2 infer": "/v2/models/sentiment/infer"}


def oip_bodies(reviews: list[str], path: Path) -> Path:
    """One V2 request per line, one review each."""
    with path.open("w") as handle:
        for text in reviews[:20_000]:
            tensor = {"name": "text", "datatype": "BYTES", "shape": [1], "data": [text]}
            handle.write(json.dumps({"inputs": [tensor]}) + "\n")
    return path


def measure(rounds: int, seconds: float, work: Path) -> dict[str, Any]:
    """Alternate wrk runs on both endpoints; medians and the ratio."""
    reviews = list(corpus_reviews())
    bodies = {
        "/classify": write_bodies(reviews, 1, work / "classify.jsonl"),
        "V2 infer": oip_bodies(reviews, work / "oip.jsonl"),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in ENDPOINTS}
    with bentoml_serve("service:SentimentClassifier", work / "serve.log") as url:
        for name, path in ENDPOINTS.items():  # warm both paths
            run_wrk(f"{url}{path}", bodies[name], CONNECTIONS, 3)
        for _ in range(rounds):
            for name, path in ENDPOINTS.items():
                raw = run_wrk(f"{url}{path}", bodies[name], CONNECTIONS, seconds)
                runs[name].append(summarise(raw, 1))
    medians = {
        name: statistics.median(r["req_per_s"] for r in rows)
        for name, rows in runs.items()
    }
    return {
        "connections": CONNECTIONS,
        "runs": runs,
        "median_req_per_s": medians,
        "ratio": round(medians["V2 infer"] / medians["/classify"], 3),
    }


def markdown(report: dict[str, Any]) -> str:
    """The result as a small table."""
    lines = [
        "# Open Inference Protocol against /classify",
        "",
        f"Single reviews, {report['connections']} connections, one server; runs "
        "alternated, medians.",
        "",
        "| endpoint | req/s (median) | p50 ms | p99 ms | errors |",
        "|---|---:|---|---|---:|",
    ]
    for name, rows in report["runs"].items():
        p50 = ", ".join(f"{r['p50_ms']:.0f}" for r in rows)
        p99 = ", ".join(f"{r['p99_ms']:.0f}" for r in rows)
        errors = sum(r["errors_non_200"] + r["socket_errors"] for r in rows)
        median = report["median_req_per_s"][name]
        lines.append(f"| {name} | {median:,.0f} | {p50} | {p99} | {errors} |")
    lines += ["", f"V2 infer / classify: **{report['ratio']:.2f}x**.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write bench/oip.{json,md}."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-oip-") as scratch:
        report = measure(args.rounds, args.duration, Path(scratch))
    (BENCH_DIR / "oip.json").write_text(json.dumps(report, indent=2) + "\n")
    (BENCH_DIR / "oip.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

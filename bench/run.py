"""Side-by-side benchmark: in-process limit, FastAPI baseline, BentoML unbatched, shipped.

Every server gets the same pipeline, the same worker count and the same load
generator (wrk, one thread, loopback only), one after another in one run, so the
ratios between them are meaningful on a shared, noisy machine.

Usage: ``python -m bench.run [--duration 8] [--connections 1,16,64,256]``
(``make bench`` installs wrk if missing and runs this). Writes
``bench/results.json``, ``bench/results.md`` and ``bench/results.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.corpus import corpus_reviews
from devtools.servers import (
    BIN_DIR,
    PROJECT_DIR,
    free_port,
    ready_process,
    serve_command,
)
from devtools.wrk import run_wrk, summarise, write_bodies
from sentiment.artifact import MODEL_FILE
from sentiment.config import load_settings

BENCH_DIR = PROJECT_DIR / "bench"
WORKERS = int(os.environ.get("SENTIMENT_WORKERS", "2"))
BATCH_SIZES = (1, 8, 32, 128, 512)
SHAPES = {"single": 1, "batch100": 100}


@dataclass
class Server:
    """A server under test: how to start it and what to call it."""

    name: str
    label: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


def servers(port: int) -> list[Server]:
    """The three HTTP designs, each with WORKERS worker processes."""
    bentoml = serve_command("service:SentimentClassifier", port)
    return [
        Server(
            "fastapi",
            "(b) FastAPI, predict per request",
            [
                str(BIN_DIR / "uvicorn"),
                "bench.fastapi_app:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(WORKERS),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
        ),
        Server(
            "bentoml_unbatched",
            "(c) BentoML, batching off",
            bentoml,
            {"SENTIMENT_BATCHING": "0"},
        ),
        Server("bentoml", "(d) BentoML as shipped", bentoml),
    ]


def in_process_rates(reviews: list[str], seconds: float = 2.0) -> dict[int, float]:
    """(a) predict_proba items/s on one core at each batch size."""
    import bentoml
    import joblib

    tag = load_settings().model_tag
    pipeline = joblib.load(bentoml.models.get(tag).path_of(MODEL_FILE))
    rates = {}
    for size in BATCH_SIZES:
        items, start, offset = 0, time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            batch = reviews[offset : offset + size]
            offset = (offset + size) % (len(reviews) - size)
            pipeline.predict_proba(batch)
            items += size
        rates[size] = items / (time.perf_counter() - start)
        print(f"  in-process batch {size:>3}: {rates[size]:,.0f} items/s", flush=True)
    return rates


@contextmanager
def running(server: Server, port: int, log: Path) -> Iterator[str]:
    """Start a server, wait for /readyz, yield its URL, stop it."""
    env = {**os.environ, "SENTIMENT_WORKERS": str(WORKERS), **server.env}
    url = f"http://127.0.0.1:{port}"
    with ready_process(server.command, url, log, env):
        yield url


def measure_servers(
    reviews: list[str], connections: list[int], duration: float, work: Path
) -> dict[str, dict[str, dict[str, Any]]]:
    """Run every server through every shape and connection count."""
    bodies = {
        shape: write_bodies(reviews, n, work / f"{shape}.jsonl")
        for shape, n in SHAPES.items()
    }
    results: dict[str, dict[str, dict[str, Any]]] = {}
    port = free_port()
    for server in servers(port):
        print(f"{server.label}:", flush=True)
        results[server.name] = {}
        with running(server, port, work / f"{server.name}.log") as url:
            run_wrk(url, bodies["single"], 16, 3)  # warm-up, not recorded
            for shape, n in SHAPES.items():
                for c in connections:
                    row = summarise(run_wrk(url, bodies[shape], c, duration), n)
                    results[server.name][f"{shape}@{c}"] = row
                    print(
                        f"  {shape:>8} c={c:<3} {row['req_per_s']:>8,.0f} req/s "
                        f"{row['reviews_per_s']:>9,.0f} reviews/s p50 {row['p50_ms']:>7} ms "
                        f"p99 {row['p99_ms']:>7} ms non-200 {row['errors_non_200']} "
                        f"socket errors {row['socket_errors']}",
                        flush=True,
                    )
    return results


def verdicts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, as ratios measured in this run."""
    http = report["servers"]
    best_batched = max(v for k, v in report["in_process"].items() if int(k) >= 100)
    rows = []
    s64, f64 = http["bentoml"].get("single@64"), http["fastapi"].get("single@64")
    if s64 and f64:
        ratio = s64["req_per_s"] / f64["req_per_s"]
        rows.append(
            {
                "target": "single review @64: >= 2x FastAPI, p99 <= 100 ms, 0 errors",
                "measured": f"{ratio:.2f}x, p99 {s64['p99_ms']} ms, "
                f"{s64['errors_non_200'] + s64['socket_errors']} errors",
                "met": ratio >= 2
                and s64["p99_ms"] <= 100
                and s64["errors_non_200"] + s64["socket_errors"] == 0,
            }
        )
    b100 = [v for k, v in http["bentoml"].items() if k.startswith("batch100@")]
    if b100:
        best = max(v["reviews_per_s"] for v in b100)
        share = best / (best_batched * WORKERS)
        rows.append(
            {
                "target": f"100-review requests: >= 70% of in-process batched rate x {WORKERS} cores",
                "measured": f"{best:,.0f} reviews/s = {share:.0%} of {best_batched * WORKERS:,.0f}",
                "met": share >= 0.7,
            }
        )
    c256 = [v for k, v in http["bentoml"].items() if k.endswith("@256")]
    if c256:
        bad = sum(v["errors_5xx"] - v["statuses"].get(503, 0) for v in c256)
        sock = sum(v["socket_errors"] for v in c256)
        shed = sum(v["statuses"].get(503, 0) + v["statuses"].get(429, 0) for v in c256)
        rows.append(
            {
                "target": "256 connections: no 5xx other than 503 shedding, no timeouts",
                "measured": f"{bad} other 5xx, {shed} shed (429/503), {sock} socket errors",
                "met": bad == 0 and sock == 0,
            }
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    """results.md: the machine, the in-process limit, the HTTP table, the targets."""
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {report['machine']}. Run: {report['date']}, {report['duration_s']} s per "
        f"point, wrk 1 thread, {WORKERS} workers per server, loopback.",
        "",
        "## (a) In-process `predict_proba`, one core",
        "",
        "| batch size | items/s |",
        "| ---: | ---: |",
    ]
    lines += [f"| {k} | {v:,.0f} |" for k, v in report["in_process"].items()]
    lines += [
        "",
        "## HTTP",
        "",
        "| server | shape | connections | req/s | reviews/s | p50 ms | p99 ms | non-200 | socket errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, points in report["servers"].items():
        for key, row in points.items():
            shape, c = key.split("@")
            lines.append(
                f"| {report['labels'][name]} | {shape} | {c} | {row['req_per_s']:,.0f} | "
                f"{row['reviews_per_s']:,.0f} | {row['p50_ms']} | {row['p99_ms']} | "
                f"{row['errors_non_200']} | {row['socket_errors']} |"
            )
    lines += [
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {v['target']} | {v['measured']} | {'yes' if v['met'] else 'NO'} |"
        for v in report["verdicts"]
    ]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    """Throughput and p99 against connections, one line per server and shape."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for col, shape in enumerate(SHAPES):
        for name, points in report["servers"].items():
            keys = [k for k in points if k.startswith(f"{shape}@")]
            conns = [int(k.split("@")[1]) for k in keys]
            axes[0][col].plot(
                conns,
                [points[k]["reviews_per_s"] for k in keys],
                marker="o",
                label=report["labels"][name],
            )
            axes[1][col].plot(
                conns,
                [points[k]["p99_ms"] for k in keys],
                marker="o",
                label=report["labels"][name],
            )
        axes[0][col].set_title(f"{shape}: reviews/s (higher is better)")
        axes[1][col].set_title(f"{shape}: p99 latency ms (lower is better)")
        for row in (0, 1):
            axes[row][col].set_xscale("log", base=2)
            axes[row][col].set_xlabel("connections")
            axes[row][col].grid(alpha=0.3)
        axes[1][col].set_yscale("log")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"sentiment /classify, {report['machine']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main(argv: list[str] | None = None) -> int:
    """Run the whole benchmark and write the reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per point")
    parser.add_argument("--connections", default="1,16,64,256")
    args = parser.parse_args(argv)
    if not shutil.which("wrk"):
        print("bench: error: wrk not found (apt-get install wrk)", file=sys.stderr)
        return 2
    connections = [int(c) for c in args.connections.split(",")]
    reviews = list(corpus_reviews())
    print("(a) in-process limit:", flush=True)
    in_process = in_process_rates(reviews)
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        http = measure_servers(reviews, connections, args.duration, Path(tmp))
    report: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "duration_s": args.duration,
        "workers": WORKERS,
        "in_process": {str(k): round(v, 1) for k, v in in_process.items()},
        "servers": http,
        "labels": {s.name: s.label for s in servers(0)},
    }
    report["verdicts"] = verdicts(report)
    (BENCH_DIR / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (BENCH_DIR / "results.md").write_text(markdown(report))
    plot(report, BENCH_DIR / "results.png")
    print(markdown(report).split("## Targets")[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())

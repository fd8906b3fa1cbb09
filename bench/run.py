"""Side-by-side benchmark: models in process, then FastAPI and BentoML over HTTP.

One run, one machine, one after another, so the ratios mean something on a shared,
noisy machine:
(a) every preset's in-process ``predict_proba`` (as the service calls it), one core;
(b) the classic FastAPI design, one predict per request, with the default model;
(c) this service with the classic model (the one it shipped before the fast
    featurizer), "before";
(d) this service with BentoML's own batching dispatcher instead of the idle-first
    one (``SENTIMENT_DISPATCH=cork``);
(e) this service as shipped, with the default model;
(f) the same with the prediction log on (``SENTIMENT_PREDICTION_LOG``): its cost;
then a mixed Locust load (150 users) against (b) and (e).

Each server is measured in this order, so the lone-client points are comparable:
100-review requests at 1 connection on the fresh server, single reviews at every
connection count, 100-review requests at 1 connection right after the 256-connection
burst, then 100-review requests at the other connection counts.

Usage: ``python -m bench.run [--duration 8] [--connections 1,16,64,256]``
(``make bench``). It trains its own two models (``bench-accurate``,
``bench-classic``) into the model store, and writes ``bench/results.json``,
``bench/results.md`` and ``bench/results.png``.
"""

from __future__ import annotations

import argparse
import csv
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

from devtools.corpus import CORPUS, corpus_reviews
from devtools.locust import run_locust
from devtools.servers import (
    BIN_DIR,
    PROJECT_DIR,
    free_port,
    ready_process,
    serve_command,
)
from devtools.wrk import run_wrk, summarise, write_bodies

BENCH_DIR = PROJECT_DIR / "bench"
WORKERS = int(os.environ.get("SENTIMENT_WORKERS", "2"))
BATCH_SIZES = (1, 8, 32, 128, 512)
SHAPES = {"single": 1, "batch100": 100}
MIXED_SERVERS = ("fastapi", "bentoml")
LOG_DIR = Path(tempfile.gettempdir()) / "bench-prediction-log"
MIXED_USERS = 150
MIXED_SECONDS = 30


@dataclass
class Server:
    """A server under test: how to start it and what to call it."""

    name: str
    label: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    only: tuple[str, ...] = ()  # measure just these points (default: all)


def servers(port: int, models: dict[str, str]) -> list[Server]:
    """The HTTP designs, each with WORKERS worker processes."""
    bentoml = serve_command("service:SentimentClassifier", port)
    default = {"SENTIMENT_MODEL_TAG": models["accurate"]}
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
            default,
        ),
        Server(
            "bentoml_before",
            "(c) BentoML, classic model (before)",
            bentoml,
            {"SENTIMENT_MODEL_TAG": models["classic"]},
        ),
        Server(
            "bentoml_cork",
            "(d) BentoML, BentoML's own dispatcher",
            bentoml,
            {**default, "SENTIMENT_DISPATCH": "cork"},
        ),
        Server("bentoml", "(e) BentoML as shipped", bentoml, default),
        Server(
            "bentoml_logging",
            "(f) BentoML as shipped, prediction log on",
            bentoml,
            {**default, "SENTIMENT_PREDICTION_LOG": str(LOG_DIR / "predictions.jsonl")},
            only=("single@1", "single@64", "batch100@64"),
        ),
    ]


def train_models(work: Path) -> dict[str, str]:
    """Train the default and the classic preset into the store; their tags."""
    import train

    tags = {}
    for preset in ("accurate", "classic"):
        name = f"bench-{preset}"
        args = ["--preset", preset, "--model-name", name, "--cv", "0"]
        metrics = work / f"{name}.json"
        if train.main([*args, "--metrics-out", str(metrics)]) != 0:
            raise RuntimeError(f"training {name} failed")
        tags[preset] = json.loads(metrics.read_text())["model"]
    return tags


def in_process_rates(
    reviews: list[str], seconds: float = 1.5
) -> dict[str, dict[int, float]]:
    """(a) reviews/s of every preset on one core, at each batch size."""
    from sentiment.data import clean_reviews, load_reviews
    from sentiment.model import PRESETS, build_pipeline, scorer, speed_up_inference

    corpus, _ = clean_reviews(load_reviews(CORPUS))
    rates: dict[str, dict[int, float]] = {}
    for name, preset in PRESETS.items():
        pipeline = build_pipeline(preset.params)
        pipeline.fit(list(corpus["text"]), corpus["label"])
        predict = scorer(speed_up_inference(pipeline))
        rates[name] = {}
        for size in BATCH_SIZES:
            items, start, offset = 0, time.perf_counter(), 0
            while time.perf_counter() - start < seconds:
                predict(reviews[offset : offset + size])
                offset = (offset + size) % (len(reviews) - size)
                items += size
            rates[name][size] = items / (time.perf_counter() - start)
        print(
            f"  {name:<9} "
            + " ".join(f"b{k}: {v:,.0f}/s" for k, v in rates[name].items()),
            flush=True,
        )
    return rates


@contextmanager
def running(server: Server, port: int, log: Path) -> Iterator[str]:
    """Start a server, wait for /readyz, yield its URL, stop it."""
    env = {**os.environ, "SENTIMENT_WORKERS": str(WORKERS), **server.env}
    url = f"http://127.0.0.1:{port}"
    with ready_process(server.command, url, log, env):
        yield url


def measure_servers(
    reviews: list[str],
    connections: list[int],
    duration: float,
    work: Path,
    models: dict[str, str],
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """Run every server through every shape and connection count."""
    bodies = {
        shape: write_bodies(reviews, n, work / f"{shape}.jsonl")
        for shape, n in SHAPES.items()
    }
    results: dict[str, dict[str, dict[str, Any]]] = {}
    mixed: dict[str, dict[str, Any]] = {}
    port = free_port()
    for server in servers(port, models):
        print(f"{server.label}:", flush=True)
        results[server.name] = {}
        with running(server, port, work / f"{server.name}.log") as url:
            run_wrk(url, bodies["single"], 16, 3)  # warm-up, not recorded
            for key, shape, c in measuring_order(connections):
                if server.only and key not in server.only:
                    continue
                n = SHAPES[shape]
                row = summarise(run_wrk(url, bodies[shape], c, duration), n)
                results[server.name][key] = row
                print(
                    f"  {key:>22} {row['req_per_s']:>8,.0f} req/s "
                    f"{row['reviews_per_s']:>9,.0f} reviews/s p50 {row['p50_ms']:>7} ms "
                    f"p99 {row['p99_ms']:>7} ms non-200 {row['errors_non_200']} "
                    f"socket errors {row['socket_errors']}",
                    flush=True,
                )
            if server.name in MIXED_SERVERS:
                mixed[server.name] = mixed_load(url, work / server.name)
                print(f"  mixed Locust: {mixed[server.name]}", flush=True)
    return results, mixed


def measuring_order(connections: list[int]) -> list[tuple[str, str, int]]:
    """``(key, shape, connections)`` in measuring order (see the module docstring)."""
    order = [("batch100@1 fresh", "batch100", 1)]
    order += [(f"single@{c}", "single", c) for c in connections]
    if max(connections) >= 256:
        order.append(("batch100@1 after burst", "batch100", 1))
    order += [(f"batch100@{c}", "batch100", c) for c in connections if c > 1]
    return order


def mixed_load(url: str, prefix: Path) -> dict[str, Any]:
    """The project's Locust profile with MIXED_USERS users; totals from its CSV."""
    result = run_locust(
        url,
        MIXED_USERS,
        MIXED_SECONDS,
        "--csv",
        str(prefix),
        env={
            "LOCUST_P95_MS": "0",
            "LOCUST_P99_MS": "0",
            "LOCUST_MAX_FAILURE_RATIO": "1",
        },
    )
    with open(f"{prefix}_stats.csv") as handle:
        total = next(
            row for row in csv.DictReader(handle) if row["Name"] == "Aggregated"
        )
    if result.returncode != 0:
        raise RuntimeError(f"locust failed:\n{result.stderr[-2000:]}")
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "req_per_s": round(float(total["Requests/s"]), 1),
        "p50_ms": float(total["50%"]),
        "p99_ms": float(total["99%"]),
    }


def verdict(target: str, measured: str, met: bool) -> dict[str, Any]:
    """One row of the targets table."""
    return {"target": target, "measured": measured, "met": met}


def verdicts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue #9's targets, as ratios measured in this run."""
    http, mixed, model = report["servers"], report["mixed"], report["in_process"]
    new, old = model["accurate"], model["classic"]
    rows = [
        verdict(
            "in-process batch 128: >= 5x the classic pipeline, >= 10k/s",
            f"{new['128']:,.0f} vs {old['128']:,.0f}/s = {new['128'] / old['128']:.1f}x",
            new["128"] >= 5 * old["128"] and new["128"] >= 10_000,
        ),
        verdict(
            "in-process batch 1: >= 4x the classic pipeline",
            f"{new['1']:,.0f} vs {old['1']:,.0f}/s = {new['1'] / old['1']:.1f}x",
            new["1"] >= 4 * old["1"],
        ),
    ]
    shipped, before, fastapi = http["bentoml"], http["bentoml_before"], http["fastapi"]
    if "single@64" in shipped:
        s64, b64 = shipped["single@64"], before["single@64"]
        ratio = s64["req_per_s"] / b64["req_per_s"]
        rows.append(
            verdict(
                "single review @64: >= 1.2x before, p99 <= 50 ms",
                f"{ratio:.2f}x, p99 {s64['p99_ms']} ms",
                ratio >= 1.2 and s64["p99_ms"] <= 50,
            )
        )
        f64 = fastapi["single@64"]
        rows.append(
            verdict(
                "single review @64: >= 2x FastAPI (same model)",
                f"{s64['req_per_s'] / f64['req_per_s']:.2f}x",
                s64["req_per_s"] >= 2 * f64["req_per_s"],
            )
        )
    if "single@1" in shipped:
        s1, b1 = shipped["single@1"]["p50_ms"], before["single@1"]["p50_ms"]
        rows.append(
            verdict(
                "single review @1: p50 <= 0.5x before",
                f"{s1} ms vs {b1} ms = {s1 / b1:.2f}x",
                s1 <= 0.5 * b1,
            )
        )
    bulk = [v["reviews_per_s"] for k, v in shipped.items() if k.startswith("batch100@")]
    bulk_before = [
        v["reviews_per_s"] for k, v in before.items() if k.startswith("batch100@")
    ]
    if bulk and bulk_before:
        limit = 2 * max(new["128"], new["512"])
        rows.append(
            verdict(
                "100-review requests: >= 3x before and >= 75% of 2 x in-process",
                f"{max(bulk):,.0f} reviews/s = {max(bulk) / max(bulk_before):.1f}x "
                f"before, {max(bulk) / limit:.0%} of {limit:,.0f}",
                max(bulk) >= 3 * max(bulk_before) and max(bulk) >= 0.75 * limit,
            )
        )
    for key in ("batch100@1 fresh", "batch100@1 after burst", "single@1"):
        if key in shipped and key in fastapi:
            ours_ms, theirs_ms = shipped[key]["p50_ms"], fastapi[key]["p50_ms"]
            rows.append(
                verdict(
                    f"lone client, {key}: p50 <= 1.1x FastAPI's",
                    f"{ours_ms} ms vs {theirs_ms} ms = {ours_ms / theirs_ms:.2f}x",
                    ours_ms <= 1.1 * theirs_ms,
                )
            )
    logging = http.get("bentoml_logging", {})
    for key in ("single@64", "batch100@64"):
        if key in logging and key in shipped:
            ratio = logging[key]["reviews_per_s"] / shipped[key]["reviews_per_s"]
            rows.append(
                verdict(
                    f"prediction log on, {key}: >= 95% of the throughput without",
                    f"{ratio:.0%} ({logging[key]['reviews_per_s']:,.0f} vs "
                    f"{shipped[key]['reviews_per_s']:,.0f} reviews/s)",
                    ratio >= 0.95,
                )
            )
    if {"bentoml", "fastapi"} <= set(mixed):
        ours, theirs = mixed["bentoml"], mixed["fastapi"]
        rows.append(
            verdict(
                f"mixed Locust, {MIXED_USERS} users: 0 failures, p99 <= 300 ms, "
                ">= 1.5x FastAPI req/s",
                f"{ours['failures']} failures, p99 {ours['p99_ms']:.0f} ms, "
                f"{ours['req_per_s'] / theirs['req_per_s']:.2f}x "
                f"({ours['req_per_s']:,.0f} vs {theirs['req_per_s']:,.0f} req/s)",
                ours["failures"] == 0
                and ours["p99_ms"] <= 300
                and ours["req_per_s"] >= 1.5 * theirs["req_per_s"],
            )
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
        "## (a) In-process `predict_proba` as the service calls it, one core, reviews/s",
        "",
        "| preset | " + " | ".join(f"batch {b}" for b in BATCH_SIZES) + " |",
        "| --- | " + " | ".join("---:" for _ in BATCH_SIZES) + " |",
    ]
    lines += [
        f"| {name} | " + " | ".join(f"{v:,.0f}" for v in rates.values()) + " |"
        for name, rates in report["in_process"].items()
    ]
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
        f"## Mixed Locust load ({MIXED_USERS} users, {MIXED_SECONDS} s, the project's profile)",
        "",
        "| server | requests | failures | req/s | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {report['labels'][name]} | {m['requests']:,} | {m['failures']} | "
        f"{m['req_per_s']:,.0f} | {m['p50_ms']:.0f} | {m['p99_ms']:.0f} |"
        for name, m in report["mixed"].items()
    ]
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
            keys = [
                k
                for k in points
                if k.startswith(f"{shape}@") and k.split("@")[1].isdigit()
            ]
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
        models = train_models(Path(tmp))
        http, mixed = measure_servers(
            reviews, connections, args.duration, Path(tmp), models
        )
    report: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "duration_s": args.duration,
        "workers": WORKERS,
        "in_process": {
            name: {str(k): round(v, 1) for k, v in rates.items()}
            for name, rates in in_process.items()
        },
        "models": models,
        "servers": http,
        "mixed": mixed,
        "labels": {s.name: s.label for s in servers(0, models)},
    }
    report["verdicts"] = verdicts(report)
    (BENCH_DIR / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (BENCH_DIR / "results.md").write_text(markdown(report))
    plot(report, BENCH_DIR / "results.png")
    print(markdown(report).split("## Targets")[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())

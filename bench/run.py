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
``bench-classic``) into the model store, and writes ``bench/results/results.json``,
``bench/results/results.md`` and ``bench/results/results.png``.
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import (
    BATCH_SIZES,
    MIXED_SECONDS,
    MIXED_USERS,
    SHAPES,
    markdown,
    plot,
    verdicts,
)
from devtools.corpus import CORPUS, corpus_reviews
from devtools.locust import locust_totals, run_locust
from devtools.servers import (
    BIN_DIR,
    PROJECT_DIR,
    free_port,
    ready_process,
    serve_command,
)
from devtools.wrk import run_wrk, summarise, write_bodies

RESULTS_DIR = PROJECT_DIR / "bench" / "results"  # committed reports
Report = dict[str, Any]


def write_report(
    name: str,
    report: Report,
    markdown: Callable[[Report], str],
    plot: Callable[[Report, Path], None] | None = None,
) -> str:
    """``bench/results/NAME.json`` and ``.md`` (and ``.png`` with ``plot``).

    Returns:
        The Markdown written.
    """
    text = markdown(report)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS_DIR / f"{name}.md").write_text(text)
    if plot is not None:
        plot(report, RESULTS_DIR / f"{name}.png")
    return text


WORKERS = int(os.environ.get("SENTIMENT_WORKERS", "2"))
MIXED_SERVERS = ("fastapi", "bentoml")
LOG_DIR = Path(tempfile.gettempdir()) / "bench-prediction-log"


@dataclass
class Server:
    """A server under test: how to start it and what to call it."""

    name: str
    label: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    only: tuple[str, ...] = ()  # measure just these points (default: all)


def fastapi_command(port: int, workers: int) -> list[str]:
    """bench/fastapi_app.py under uvicorn, ``workers`` processes (design (b))."""
    return [
        str(BIN_DIR / "uvicorn"),
        "bench.fastapi_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def servers(port: int, models: dict[str, str]) -> list[Server]:
    """The HTTP designs, each with WORKERS worker processes."""
    bentoml = serve_command("service:SentimentClassifier", port)
    default = {"SENTIMENT_MODEL_TAG": models["accurate"]}
    return [
        Server(
            "fastapi",
            "(b) FastAPI, predict per request",
            fastapi_command(port, WORKERS),
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
    from sentiment.model.scorer import scorer, speed_up_inference
    from sentiment.training.data import clean_reviews, load_reviews
    from sentiment.training.pipeline import PRESETS, fit_pipeline

    corpus, _ = clean_reviews(load_reviews(CORPUS))
    rates: dict[str, dict[int, float]] = {}
    for name, preset in PRESETS.items():
        pipeline = fit_pipeline(preset.params, list(corpus["text"]), corpus["label"])
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
    if result.returncode != 0:
        raise RuntimeError(f"locust failed:\n{result.stderr[-2000:]}")
    return locust_totals(prefix)


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
    print(write_report("results", report, markdown, plot).split("## Targets")[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())

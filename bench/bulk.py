"""Bulk requests: this service, the FastAPI design and LitServe tuned, side by side.

One run, the same pickled ``accurate`` pipeline in every server, 2 workers each:

- the **in-process limit**: the scorer on one core, and on two cores at once
  (two processes, the load generator idle), at the service's batch sizes;
- **three servers in alternating rounds** (:func:`bench.alternate.in_turn`):
  this service, the FastAPI design (``bench.fastapi_app``), LitServe tuned as
  the issue measured it (``bench.litserve_app``: 2 API servers, ZeroMQ queue,
  batches of 16 / 5 ms, 2 workers); plus "today", the service at ``--base-ref``
  (default ``main``), for the single-review comparison. Each server starts
  fresh every round and is measured in this order: a lone client with 100
  reviews (fresh), 100-review bodies at 64 connections, single reviews at 64,
  a 256-connection burst of single reviews, the lone client again (after the
  burst), 256-review bodies at 16 connections. Medians of the rounds;
- the **floor** (``bench.floor_app``: uvicorn, httptools, uvloop, 2 workers,
  the body parsed with orjson and an answer of the same size, no model) in the
  same rounds, and the CPU that wrk, each server's processes and the kernel's
  interrupts use per review at 100-review bodies @64 (from ``/proc``). The
  model's CPU per review is the in-process two-core limit's; the best share of
  that limit any server can reach here is model / (model + floor);
- the targets of the issue, as ratios within this run, and the worker
  profile's per-stage table (``bench/profile.py``, before and after).

Usage: ``python -m bench.bulk [--rounds 3] [--duration 6] [--model-tag TAG]``
(``make bench SECTIONS=bulk``); writes ``bench/results/bulk.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.alternate import in_turn
from bench.run import RESULTS_DIR, write_report
from devtools.corpus import corpus_reviews
from devtools.servers import (
    BIN_DIR,
    PROJECT_DIR,
    free_port,
    ready_process,
    serve_command,
)
from devtools.wrk import run_wrk, summarise, write_bodies

LITSERVE_PYTHON = PROJECT_DIR / ".venv-litserve" / "bin" / "python"
WORKERS = 2
SHAPES = {"single": 1, "batch100": 100, "batch256": 256}
BATCHES = (128, 256)  # in process: the batch, and the service's max batch
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CPU_POINT = "batch100@64"  # where each server's CPU per review is read
# (key, shape, connections) in measuring order; each server measures its subset.
ORDER = (
    ("batch100@1 fresh", "batch100", 1),
    ("batch100@64", "batch100", 64),
    ("single@64", "single", 64),
    ("single@256 (burst)", "single", 256),
    ("batch100@1 after burst", "batch100", 1),
    ("batch256@16", "batch256", 16),
)


@dataclass
class Contender:
    """A server of the bulk table: how to start it, which points it is measured at."""

    name: str
    label: str
    command: list[str]
    env: dict[str, str]
    points: tuple[str, ...]
    cwd: Path = PROJECT_DIR


def contenders(
    port: int, model_tag: str, model_path: str, base: Path | None
) -> list[Contender]:
    """This service, today's, the FastAPI design, LitServe tuned."""
    tag = {"SENTIMENT_MODEL_TAG": model_tag, "SENTIMENT_WORKERS": str(WORKERS)}
    every = tuple(key for key, _, _ in ORDER)
    lone = ("batch100@1 fresh", "batch100@64", "single@256 (burst)")
    found = [
        Contender(
            "bentoml",
            "this service",
            serve_command("service:SentimentClassifier", port),
            tag,
            every,
        ),
        Contender(
            "fastapi",
            "FastAPI, one predict_proba per request, 2 uvicorn workers",
            [
                str(BIN_DIR / "uvicorn"),
                "bench.fastapi_app:app",
                *("--host", "127.0.0.1", "--port", str(port)),
                *("--workers", str(WORKERS), "--loop", "uvloop", "--http", "httptools"),
                *("--no-access-log", "--log-level", "warning"),
            ],
            tag,
            (*lone, "batch100@1 after burst"),
        ),
        Contender(
            "litserve",
            "LitServe 0.2.19 tuned (2 API servers, ZeroMQ, batches 16 / 5 ms, "
            "2 workers)",
            [str(LITSERVE_PYTHON), "-m", "bench.litserve_app", str(port)],
            {"BENCH_MODEL_PATH": model_path},
            ("batch100@1 fresh", "batch100@64"),
        ),
        Contender(
            "floor",
            "floor: uvicorn + orjson, same answer size, no model, 2 workers",
            [
                str(BIN_DIR / "uvicorn"),
                "bench.floor_app:app",
                *("--host", "127.0.0.1", "--port", str(port)),
                *("--workers", str(WORKERS), "--loop", "uvloop", "--http", "httptools"),
                *("--no-access-log", "--log-level", "warning"),
            ],
            {},
            ("batch100@1 fresh", "batch100@64"),
        ),
    ]
    if base is not None:
        found.append(
            Contender(
                "today",
                "this service at the base ref (today)",
                [*serve_command("service:SentimentClassifier", port)],
                {**tag, "PYTHONPATH": str(base)},
                ("batch100@64", "single@64"),
                cwd=base,
            )
        )
    return found


@contextmanager
def serving(contender: Contender, port: int, log: Path) -> Iterator[tuple[str, int]]:
    """Start a contender (in its own directory), wait for /readyz, stop it after.

    Yields its URL and its process ID.
    """
    env = {**os.environ, **contender.env}
    url = f"http://127.0.0.1:{port}"
    command = contender.command
    if contender.cwd != PROJECT_DIR:  # today's code: serve from its own tree
        command = [*command, "--working-dir", str(contender.cwd)]
    with ready_process(command, url, log, env) as process:
        yield url, process.pid
    group_gone(process.pid)


def tree_cpu_s(root: int) -> tuple[float, float]:
    """CPU seconds (user + system) used by ``root`` and its live descendants.

    By parent, not process group: BentoML's workers each lead their own group.

    Returns:
        All their threads', and their main threads' alone (a uvicorn worker's
        event loop; the model runs in other threads, except LitServe's).
    """
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat_fields(stat)
        if fields:
            parents[int(stat.parent.name)] = int(fields[1])
    tree, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grew = bool(found)
    total = main = 0
    for pid in tree:
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            fields = _stat_fields(stat)
            ticks = int(fields[11]) + int(fields[12]) if fields else 0  # utime, stime
            total += ticks
            main += ticks if stat.parent.name == str(pid) else 0
    return total / CLOCK_TICKS, main / CLOCK_TICKS


def _stat_fields(stat: Path) -> list[str]:
    """A /proc stat file's fields after the command name (state, ppid, ...)."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []  # gone meanwhile


def interrupt_cpu_s() -> float:
    """CPU seconds the whole machine has spent in interrupts (irq + softirq)."""
    fields = Path("/proc/stat").read_text().split(maxsplit=11)[1:8]
    return (int(fields[5]) + int(fields[6])) / CLOCK_TICKS


def cpu_snapshot(server: int) -> dict[str, float]:
    """CPU seconds so far: the server's processes, finished children (wrk), interrupts."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    total, main = tree_cpu_s(server)
    return {
        "server": total,
        "main_threads": main,
        "wrk": children.ru_utime + children.ru_stime,
        "interrupts": interrupt_cpu_s(),
    }


def cpu_per_review(
    before: dict[str, float], after: dict[str, float], raw: dict[str, Any], texts: int
) -> dict[str, float]:
    """µs of CPU per answered review, by whom, between two snapshots."""
    reviews = raw["statuses"].get(200, 0) * texts or 1
    used = {k: (after[k] - before[k]) * 1e6 / reviews for k in before}
    used["total"] = used["server"] + used["wrk"] + used["interrupts"]
    return {k: round(v, 2) for k, v in used.items()}


def group_gone(group: int, grace: float = 10.0) -> None:
    """Wait until no process of the server's group is left; SIGKILL after ``grace``.

    ``stop`` waits for the server's own process only. LitServe's workers outlived
    theirs by up to a minute, busy on both cores while the next server was
    measured ("today" read 553 reviews/s at 64 connections in one round).
    """
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(group, 0 if time.monotonic() < deadline else signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def measure_round(
    contender: Contender, port: int, bodies: dict[str, Path], seconds: float, log: Path
) -> dict[str, dict[str, Any]]:
    """One fresh start of a contender, its points in measuring order."""
    results: dict[str, dict[str, Any]] = {}
    print(f"  {contender.name}: starting, then a warm-up", flush=True)
    with serving(contender, port, log) as (url, pid):
        run_wrk(url, bodies["single"], 16, 2)  # warm-up, not recorded
        if contender.name == "litserve":  # its workers' first batches are slow
            run_wrk(url, bodies["batch100"], 64, 3)
        for key, shape, connections in ORDER:
            if key not in contender.points:
                continue
            before = cpu_snapshot(pid)
            raw = run_wrk(url, bodies[shape], connections, seconds)
            results[key] = summarise(raw, SHAPES[shape])
            if key == CPU_POINT:
                used = cpu_per_review(before, cpu_snapshot(pid), raw, SHAPES[shape])
                results[key]["cpu_us_per_review"] = used
            row = results[key]  # a line per point: a round is minutes long
            print(
                f"  {contender.name}: {key} {row['reviews_per_s']:,.0f}/s "
                f"p50 {row['p50_ms']} p99 {row['p99_ms']}",
                flush=True,
            )
    return results


def medians(runs: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per point: the median of each number over the rounds, and every round."""
    summary: dict[str, dict[str, Any]] = {}
    for key in runs[0]:
        rows = [run[key] for run in runs]
        summary[key] = {
            field: statistics.median(row[field] for row in rows)
            for field in ("req_per_s", "reviews_per_s", "p50_ms", "p99_ms")
        }
        summary[key]["refused"] = sum(row["errors_non_200"] for row in rows)
        summary[key]["socket_errors"] = sum(row["socket_errors"] for row in rows)
        summary[key]["rounds"] = [row["reviews_per_s"] for row in rows]
        if "cpu_us_per_review" in rows[0]:
            summary[key]["cpu_us_per_review"] = {
                who: statistics.median(row["cpu_us_per_review"][who] for row in rows)
                for who in rows[0]["cpu_us_per_review"]
            }
    return summary


def score_for(model_path: str, batch: int, seconds: float, reviews: list[str]) -> float:
    """Reviews/s of the scorer in this process at ``batch``, for ``seconds``."""
    import joblib

    from bench.select import rate
    from sentiment.model.scorer import scorer, speed_up_inference

    predict = scorer(speed_up_inference(joblib.load(model_path)))
    predict(reviews[:batch])  # first call: caches, not measured
    return rate(predict, reviews, batch, seconds)


def _score_into(args: tuple[str, int, float, list[str]]) -> float:
    return score_for(*args)


def in_process(model_path: str, reviews: list[str], seconds: float) -> dict[str, Any]:
    """The in-process limit: one core, and two processes at once (their sum)."""
    rates: dict[str, Any] = {}
    for batch in BATCHES:
        one = score_for(model_path, batch, seconds, reviews)
        context = multiprocessing.get_context("spawn")
        with context.Pool(2) as pool:
            both = pool.map(_score_into, [(model_path, batch, seconds, reviews)] * 2)
        rates[str(batch)] = {"one_core": one, "two_cores": sum(both)}
        print(
            f"  in process, batch {batch}: {one:,.0f}/s on one core, "
            f"{sum(both):,.0f}/s on two",
            flush=True,
        )
    return rates


def base_tree(ref: str, into: Path) -> Path | None:
    """The project at ``ref`` (``git archive``), or None when git cannot say."""
    git = shutil.which("git")
    if git is None or not ref:
        return None
    archive = subprocess.run(  # noqa: S603 - fixed program, our own arguments
        [git, "-C", str(PROJECT_DIR), "archive", ref],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        print(f"  no base tree for {ref}: {archive.stderr.decode()[:200]}")
        return None
    into.mkdir(parents=True)
    subprocess.run(  # noqa: S603
        ["tar", "-x", "-C", str(into)],
        input=archive.stdout,
        check=True,  # noqa: S607
    )
    return into


def ceiling(report: dict[str, Any]) -> dict[str, float] | None:
    """The best share of the two-core limit any server can reach on this machine.

    Per review, the model costs ``2 cores / limit`` of CPU (the in-process
    two-core rate of this run) and the floor's HTTP, JSON, wrk and interrupts
    cost what ``bench.floor_app`` used at the same load; the two cores hold both,
    so at best ``model / (model + floor)`` of the limit is served. None without
    a floor measurement.
    """
    floor = report["servers"].get("floor", {}).get(CPU_POINT, {})
    if "cpu_us_per_review" not in floor:
        return None
    two_cores = max(rates["two_cores"] for rates in report["in_process"].values())
    model = 2e6 / two_cores
    overhead = floor["cpu_us_per_review"]["total"]
    share = model / (model + overhead)
    return {
        "model_us": round(model, 2),
        "floor_us": round(overhead, 2),
        "share": round(share, 4),
        "reviews_per_s": round(share * two_cores),
    }


def verdicts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's "Done when", as ratios within this run."""
    servers, limit = report["servers"], report["in_process"]
    ours, fastapi = servers["bentoml"], servers["fastapi"]
    litserve, today = servers["litserve"], servers.get("today", {})
    two_cores = max(rates["two_cores"] for rates in limit.values())
    bulk = ours["batch100@64"]["reviews_per_s"]
    best = report.get("ceiling")
    bound = f" (the floor's ceiling: {best['share']:.0%})" if best else ""
    rows = [
        (
            "100-review bodies @64: >= 90% of the in-process two-core rate",
            f"{bulk:,.0f} vs {two_cores:,.0f} reviews/s = {bulk / two_cores:.0%}"
            + bound,
            bulk >= 0.9 * two_cores,
        ),
    ]
    for name, other, factor in (
        ("LitServe tuned", litserve, 1.1),
        ("FastAPI", fastapi, 1.2),
    ):
        theirs = other["batch100@64"]["reviews_per_s"]
        rows.append(
            (
                f"100-review bodies @64: >= {factor}x {name}",
                f"{bulk:,.0f} vs {theirs:,.0f} = {bulk / theirs:.2f}x",
                bulk >= factor * theirs,
            )
        )
    for key in ("batch100@1 fresh", "batch100@1 after burst"):
        mine, theirs = ours[key]["p50_ms"], fastapi[key]["p50_ms"]
        rows.append(
            (
                f"lone client, {key}: p50 <= 1.0x FastAPI",
                f"{mine} vs {theirs} ms = {mine / theirs:.2f}x",
                mine <= theirs,
            )
        )
    single = ours["single@64"]
    if "single@64" in today:
        ratio = single["reviews_per_s"] / today["single@64"]["reviews_per_s"]
        rows.append(
            (
                "single reviews @64: >= 0.95x today, p99 <= 50 ms",
                f"{ratio:.2f}x ({single['reviews_per_s']:,.0f} vs "
                f"{today['single@64']['reviews_per_s']:,.0f}/s), p99 {single['p99_ms']} ms",
                ratio >= 0.95 and single["p99_ms"] <= 50,
            )
        )
    big = ours["batch256@16"]
    rows.append(
        (
            "256-review bodies @16: 0 refused, reviews/s >= the 100-review figure",
            f"{big['refused']} refused, {big['reviews_per_s']:,.0f} vs {bulk:,.0f}/s",
            big["refused"] == 0 and big["reviews_per_s"] >= bulk,
        )
    )
    return [{"target": t, "measured": m, "met": ok} for t, m, ok in rows]


def profile_table() -> list[str]:
    """The worker profile's stages, before and after, from bench/results/profile-*."""
    found = {
        label: json.loads(path.read_text())
        for label in ("before", "after")
        if (path := RESULTS_DIR / f"profile-{label}.json").exists()
    }
    if not found:
        return []
    stages = list(dict.fromkeys(s for p in found.values() for s in p["us_per_review"]))
    lines = [
        "## Where a worker's time goes (µs of GIL per review, `bench/profile.py`)",
        "",
        "py-spy on one worker under 100-review bodies at 64 connections; the flame "
        "graphs are `profile-before.svg` and `profile-after.svg`.",
        "",
        "| stage | " + " | ".join(found) + " |",
        "| --- | " + " | ".join("---:" for _ in found) + " |",
    ]
    for stage in stages:
        cells = [f"{p['us_per_review'].get(stage, 0.0):.1f}" for p in found.values()]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    totals = [sum(p["us_per_review"].values()) for p in found.values()]
    outside = [
        t - p["us_per_review"].get("model", 0.0)
        for t, p in zip(totals, found.values(), strict=True)
    ]
    lines.append(
        "| **outside the model** | "
        + " | ".join(f"**{v:.1f}**" for v in outside)
        + " |"
    )
    lines.append("| total | " + " | ".join(f"{v:.1f}" for v in totals) + " |")
    return [*lines, ""]


def floor_table(report: dict[str, Any]) -> list[str]:
    """CPU per review at 100-review bodies @64, by whom, and the ceiling it implies."""
    best = report.get("ceiling")
    if best is None:
        return []
    lines = [
        "## The floor: CPU per review at 100-review bodies @64 (µs, from /proc)",
        "",
        "wrk: its own user + system time; server: every thread of every process of "
        "the server, and of that its main threads (uvicorn's event loops; the model "
        "runs in other threads, in LitServe in other processes' main threads); "
        "interrupts: the machine's irq + softirq time (loopback TCP).",
        "",
        "| server | wrk | server | of which main threads | interrupts | total |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, points in report["servers"].items():
        used = points.get(CPU_POINT, {}).get("cpu_us_per_review")
        if used:
            lines.append(
                f"| {report['labels'][name]} | {used['wrk']:.1f} | "
                f"{used['server']:.1f} | {used['main_threads']:.1f} | "
                f"{used['interrupts']:.1f} | {used['total']:.1f} |"
            )
    lines += [
        "",
        f"The model: {best['model_us']:.1f} µs of CPU per review (2 cores / the "
        f"in-process two-core limit). The floor: {best['floor_us']:.1f} µs. At best "
        f"a server here serves model / (model + floor) = **{best['share']:.0%}** of "
        f"the two-core limit ({best['reviews_per_s']:,} reviews/s).",
        "",
    ]
    return lines


def markdown(report: dict[str, Any]) -> str:
    """bulk.md: the in-process limit, the bulk table, the other points, targets."""
    servers, labels = report["servers"], report["labels"]
    two_cores = max(rates["two_cores"] for rates in report["in_process"].values())
    lines = [
        "# Bulk requests: three servers side by side",
        "",
        f"Machine: {report['machine']}. Run: {report['date']}; {report['rounds']} "
        f"alternating rounds of {report['duration_s']} s per point, each server "
        "started fresh every round; medians. wrk 1 thread on the same machine. "
        f"Model: `{report['model']}` in every server.",
        "",
        "## In-process limit (the scorer as the service calls it), reviews/s",
        "",
        "| batch | one core | two cores at once |",
        "| ---: | ---: | ---: |",
    ]
    for batch, rates in report["in_process"].items():
        lines.append(
            f"| {batch} | {rates['one_core']:,.0f} | {rates['two_cores']:,.0f} |"
        )
    lines += [
        "",
        "## 100-review bodies at 64 connections",
        "",
        "| server | req/s | reviews/s (rounds) | share of the two-core limit | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in ("bentoml", "litserve", "fastapi", "today", "floor"):
        if name not in servers or "batch100@64" not in servers[name]:
            continue
        row = servers[name]["batch100@64"]
        rounds = ", ".join(f"{v:,.0f}" for v in row["rounds"])
        lines.append(
            f"| {labels[name]} | {row['req_per_s']:,.0f} | "
            f"{row['reviews_per_s']:,.0f} ({rounds}) | "
            f"{row['reviews_per_s'] / two_cores:.0%} | {row['p99_ms']} |"
        )
    lines += [
        "",
        "## Every point (medians)",
        "",
        "| server | point | req/s | reviews/s | p50 ms | p99 ms | refused | socket errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, points in servers.items():
        for key, row in points.items():
            lines.append(
                f"| {labels[name]} | {key} | {row['req_per_s']:,.0f} | "
                f"{row['reviews_per_s']:,.0f} | {row['p50_ms']} | {row['p99_ms']} | "
                f"{row['refused']} | {row['socket_errors']} |"
            )
    lines += ["", *floor_table(report), *profile_table(), "## Targets", ""]
    lines += ["| target | measured | met |", "| --- | --- | --- |"]
    lines += [
        f"| {v['target']} | {v['measured']} | {'yes' if v['met'] else 'NO'} |"
        for v in report["verdicts"]
    ]
    return "\n".join(lines) + "\n"


def store_path(tag: str) -> str:
    """The pickled pipeline file of ``tag`` in the model store."""
    import bentoml

    from sentiment.model.artifact import MODEL_FILE

    return str(bentoml.models.get(tag).path_of(MODEL_FILE))


def train_accurate(work: Path) -> str:
    """Train ``bench-accurate`` into the store; its tag."""
    import train

    metrics = work / "accurate.json"
    args = ["--preset", "accurate", "--model-name", "bench-accurate", "--cv", "0"]
    if train.main([*args, "--metrics-out", str(metrics)]) != 0:
        raise RuntimeError("training bench-accurate failed")
    tag: str = json.loads(metrics.read_text())["model"]
    return tag


def run(
    rounds: int, seconds: float, model_tag: str, base_ref: str, work: Path
) -> dict[str, Any]:
    """The whole bulk section; its report."""
    reviews = list(corpus_reviews())
    tag = model_tag or train_accurate(work)
    path = store_path(tag)
    print("in-process limit:", flush=True)
    limit = in_process(path, reviews, 3.0)
    bodies = {
        shape: write_bodies(reviews, n, work / f"{shape}.jsonl")
        for shape, n in SHAPES.items()
    }
    port = free_port()
    base = base_tree(base_ref, work / "base")
    servers = contenders(port, tag, path, base)
    measures: dict[str, Callable[[], dict[str, dict[str, Any]]]] = {
        c.name: partial(measure_round, c, port, bodies, seconds, work / f"{c.name}.log")
        for c in servers
    }
    print(f"{rounds} rounds:", flush=True)
    runs = in_turn(measures, rounds)
    report: dict[str, Any] = {
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rounds": rounds,
        "duration_s": seconds,
        "model": tag,
        "base_ref": base_ref if base else None,
        "in_process": limit,
        "servers": {name: medians(rows) for name, rows in runs.items()},
        "labels": {c.name: c.label for c in servers},
    }
    report["ceiling"] = ceiling(report)
    report["verdicts"] = verdicts(report)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the bulk section, write bench/results/bulk.{json,md}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--model-tag", default="")
    parser.add_argument("--base-ref", default="main", help="'today' (empty: skip)")
    args = parser.parse_args(argv)
    if not LITSERVE_PYTHON.exists():
        print(f"bench.bulk: error: {LITSERVE_PYTHON} missing", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
        report = run(
            args.rounds, args.duration, args.model_tag, args.base_ref, Path(tmp)
        )
    print(write_report("bulk", report, markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())

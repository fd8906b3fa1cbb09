"""Overload benchmark: goodput past capacity, this service against the FastAPI design.

One run, one machine, the same model (``SENTIMENT_MODEL_TAG``, default
``sentiment:latest``) for both servers, one after the other:

1. closed loop: wrk, single reviews, keep-alive, no think time, at 64, 256,
   1,024 and 4,096 connections; goodput (200s/s), refused share, p99, socket
   errors and server CPU per request (all the server's processes, ``/proc``);
2. open loop (this service): ``devtools.openloop`` at 2x and 4x the 64-connection
   goodput; goodput and the p99 of admitted requests;
3. what a refusal costs: a server with ``API_KEY`` set and wrk without the key
   (every request refused on the admission path, as an overload 503 is), server
   CPU per refusal against per served single review at 64 connections.

Usage: ``python -m bench.overload [--duration 8]`` (``make bench-overload``, and
the overload section of ``make bench``). Writes ``bench/results/overload.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.run import Server, servers, write_report
from devtools.corpus import corpus_reviews
from devtools.openloop import run_open_loop
from devtools.proc import tree_cpu_seconds
from devtools.servers import free_port, isolated_home, ready_process
from devtools.wrk import run_wrk, summarise, write_bodies

CONNECTIONS = (64, 256, 1024, 4096)
OPEN_LOOP_FACTORS = (2, 4)
MODEL_TAG = os.environ.get("SENTIMENT_MODEL_TAG", "sentiment:latest")


def raise_file_limit() -> None:
    """4,096 connections need more descriptors than a shell's default soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def closed_loop(
    url: str, pid: int, bodies: Path, c: int, seconds: float
) -> dict[str, Any]:
    """One wrk point with the server's CPU per request."""
    cpu = tree_cpu_seconds(pid)
    raw = run_wrk(url, bodies, c, seconds, timeout_s=15)
    cpu = tree_cpu_seconds(pid) - cpu
    row = summarise(raw, 1)
    answered = max(raw["requests"], 1)
    row["refused_share"] = round(row["errors_non_200"] / answered, 4)
    row["cpu_us_per_request"] = round(cpu / answered * 1e6, 1)
    return row


def open_loop_point(
    url: str, pid: int, bodies: list[bytes], rate: float, seconds: float
) -> dict[str, Any]:
    """One open-loop run, with the CPU the server and the generator each used.

    Both share the machine's cores: the generator's share is CPU the server did
    not have, so goodput per server CPU-second tells the policy's efficiency
    apart from the generator's cost.
    """
    server_cpu, own_cpu = tree_cpu_seconds(pid), time.process_time()
    started = time.perf_counter()
    summary = run_open_loop(url, bodies, rate, seconds)
    wall = time.perf_counter() - started
    server_cpu = tree_cpu_seconds(pid) - server_cpu
    summary["server_cores"] = round(server_cpu / wall, 2)
    summary["generator_cores"] = round((time.process_time() - own_cpu) / wall, 2)
    summary["served_per_server_cpu_s"] = round(summary["ok"] / max(server_cpu, 1e-9))
    return summary


def measure(
    server: Server,
    env: dict[str, str],
    work: Path,
    seconds: float,
    bodies: Path,
    open_loop: bool,
) -> dict[str, Any]:
    """Every closed-loop point, then (optionally) the open-loop points."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [part.replace("3000", str(port)) for part in server.command]
    full_env = {**os.environ, "BENTOML_HOME": str(isolated_home(work)), **env}
    result: dict[str, Any] = {"closed": {}, "open": {}}
    with ready_process(command, url, work / f"{server.name}.log", full_env) as proc:
        run_wrk(url, bodies, 16, 3)  # warm-up
        for c in CONNECTIONS:
            row = closed_loop(url, proc.pid, bodies, c, seconds)
            result["closed"][str(c)] = row
            print(
                f"  {server.name} closed @{c}: {row['req_per_s']:,.0f}/s refused "
                f"{row['refused_share']:.1%} p99 {row['p99_ms']} ms socket errors "
                f"{row['socket_errors']} cpu {row['cpu_us_per_request']} us/req",
                flush=True,
            )
            time.sleep(2)
        if open_loop:
            capacity = result["closed"]["64"]["req_per_s"]
            lines = [line.encode() for line in bodies.read_text().splitlines()]
            for factor in OPEN_LOOP_FACTORS:
                summary = open_loop_point(
                    f"{url}/classify", proc.pid, lines, capacity * factor, seconds
                )
                result["open"][f"{factor}x"] = summary
                print(
                    f"  open loop {factor}x ({capacity * factor:,.0f}/s): {summary}",
                    flush=True,
                )
                time.sleep(3)
    return result


def refusal_cost(
    server: Server, work: Path, seconds: float, bodies: Path
) -> dict[str, Any]:
    """CPU per refusal: API_KEY set, wrk sends none (answered on the admission path)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [part.replace("3000", str(port)) for part in server.command]
    env = {
        **os.environ,
        "BENTOML_HOME": str(isolated_home(work)),
        "SENTIMENT_MODEL_TAG": MODEL_TAG,
        "API_KEY": "bench-key",
    }
    with ready_process(command, url, work / "refusal.log", env) as proc:
        run_wrk(url, bodies, 16, 2)
        row = closed_loop(url, proc.pid, bodies, 64, seconds)
    return {
        "refusals_per_s": round(row["statuses"].get(401, 0) / seconds, 1),
        "cpu_us_per_refusal": row["cpu_us_per_request"],
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as tables."""
    ours, naive = report["bentoml"]["closed"], report["fastapi"]["closed"]
    base = ours["64"]["req_per_s"]
    lines = [
        "# Overload benchmark",
        "",
        f"{report['date']}, {report['machine']}; model `{report['model']}`; "
        f"{report['duration_s']} s per point. Goodput = 200 answers/s.",
        "",
        "| connections | this service | x 64-conn | refused | p99 ms | FastAPI | refused "
        "| p99 ms | ratio | socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in CONNECTIONS:
        o, n = ours[str(c)], naive[str(c)]
        lines.append(
            f"| {c:,} | {o['req_per_s']:,.0f} | {o['req_per_s'] / base:.2f} | "
            f"{o['refused_share']:.1%} | {o['p99_ms']:,.0f} | {n['req_per_s']:,.0f} | "
            f"{n['refused_share']:.1%} | {n['p99_ms']:,.0f} | "
            f"{o['req_per_s'] / max(n['req_per_s'], 1):.1f}x | "
            f"{o['socket_errors']} / {n['socket_errors']} |"
        )
    lines += [
        "",
        "Open loop (this service, `devtools.openloop`):",
        "",
        "| offered | goodput | x capacity | refused | admitted p50 ms | "
        "admitted p99 ms | socket errors | connections | server cores | "
        "generator cores | served per server CPU-s (x 64-conn) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    per_cpu_s = 1e6 / ours["64"]["cpu_us_per_request"]
    for factor, s in report["bentoml"]["open"].items():
        lines.append(
            f"| {factor} = {s['offered_per_s']:,.0f}/s | {s['goodput_per_s']:,.0f} | "
            f"{s['goodput_per_s'] / base:.2f} | {s['refused']:,} | {s['p50_ok_ms']} | "
            f"{s['p99_ok_ms']} | {s['socket_errors']} | {s['connections']:,} | "
            f"{s['server_cores']} | {s['generator_cores']} | "
            f"{s['served_per_server_cpu_s']:,} "
            f"({s['served_per_server_cpu_s'] / per_cpu_s:.2f}) |"
        )
    cost = report["refusal"]
    served = ours["64"]["cpu_us_per_request"]
    lines += [
        "",
        f"A refusal: {cost['cpu_us_per_refusal']} us of server CPU against "
        f"{served} us per served single review at 64 connections "
        f"({cost['cpu_us_per_refusal'] / served:.1%}).",
        "",
    ]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """Goodput against connections, both servers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, label in (("bentoml", "this service"), ("fastapi", "FastAPI design")):
        points = report[name]["closed"]
        ax.plot(
            list(CONNECTIONS),
            [points[str(c)]["req_per_s"] for c in CONNECTIONS],
            marker="o",
            label=label,
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("connections (closed loop, no think time)")
    ax.set_ylabel("goodput, 200 answers/s")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the overload benchmark and write the reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds per point")
    args = parser.parse_args(argv)
    raise_file_limit()
    by_name = {
        s.name: s for s in servers(3000, {"accurate": MODEL_TAG, "classic": MODEL_TAG})
    }
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores",
        "model": MODEL_TAG,
        "duration_s": args.duration,
    }
    with tempfile.TemporaryDirectory(prefix="bench-overload-") as tmp:
        work = Path(tmp)
        bodies = write_bodies(list(corpus_reviews()), 1, work / "single.jsonl")
        for name in ("bentoml", "fastapi"):
            server = by_name[name]
            print(f"{server.label}:", flush=True)
            report[name] = measure(
                server,
                server.env,
                work,
                args.duration,
                bodies,
                open_loop=name == "bentoml",
            )
        report["refusal"] = refusal_cost(
            by_name["bentoml"], work, args.duration, bodies
        )
    print(write_report("overload", report, markdown, plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())

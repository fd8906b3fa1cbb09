"""Tenants benchmark: fair shares, weights, deadlines and disconnects, one run.

One machine, loopback, this service with a tenants file (``a`` and ``b``), wrk
for the closed loops and ``devtools.openloop`` for the open ones; per-tenant
series are read from the server's ``/metrics`` every half second:

1. isolation (weights 1:1): ``b`` alone at 8 connections, then ``a`` at 1,000
   connections beside ``b`` at 8; ``b``'s rate and p99 against alone, the total
   goodput against ``a`` alone at 64 connections;
2. deadlines: an open loop at 4x the 64-connection goodput, every request with
   ``X-Request-Timeout-Ms: 200``; the slowest 200 and the drops counted;
3. disconnects: ``a`` at 1,024 connections and, with the same key, clients that
   give up after 50 ms; their requests scored (from the counters) and ``a``'s
   goodput against ``a`` alone at 1,024;
4. weights 3:1 (a second server): both saturating; served reviews split;
5. on that server, the floods of :mod:`bench.shapes` with wrk: capacity, the
   flood at 1,024 connections with and without 200 ms deadlines, and 3:1 at
   256 + 256 and 512 + 512 connections.

Usage: ``python -m bench.tenants [--duration 8]`` (``make bench-tenants``, and a
section of ``make bench-overload``). Writes ``bench/results/tenants.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench import shapes
from bench.overload import raise_file_limit
from bench.run import write_report
from bench.shapes import KEYS
from devtools.corpus import corpus_reviews
from devtools.openloop import run_open_loops
from devtools.proc import tree_cpu_seconds
from devtools.servers import bentoml_process
from devtools.wrk import run_wrk, summarise, write_bodies

MODEL_TAG = os.environ.get("SENTIMENT_MODEL_TAG", "sentiment:latest")
SAMPLE_EVERY_S = 0.5
PACED_B = 500  # answers/s tenant b asks for in the open-loop isolation point
# b as an open loop asking this share of a's 64-connection goodput: below its fair
# share (half at 1:1), which is what "what it asks for" means for an open loop.
PACED_B_SHARE = 0.3
# The deadline section's generator: a bounded pool opened before the load, and a
# request that found no free connection for 10 ms is skipped (counted), so at 4x
# the generator keeps its schedule instead of opening connections by the
# thousand (past the server's listen backlog: seconds of retransmits).
DEADLINE_CONNECTIONS = 2048
DEADLINE_MAX_WAIT_S = 0.01
SERIES = ("sentiment_tenant_admitted_total", "sentiment_tenant_reviews_total")
SERVER_PIDS: dict[str, int] = {}  # the servers this run started, by URL (their CPU)


def auth(tenant: str) -> dict[str, str]:
    """The Authorization header of ``tenant``."""
    return {"Authorization": f"Bearer {KEYS[tenant]}"}


def scrape(url: str) -> dict[str, float]:
    """Every ``sentiment_*`` counter sample of ``/metrics``, by its full name."""
    samples: dict[str, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("sentiment_") and " " in line:
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def tenant_value(samples: dict[str, float], series: str, tenant: str) -> float:
    """The sum of ``series``'s samples labelled ``tenant``."""
    label = f'tenant="{tenant}"'
    return sum(
        v for k, v in samples.items() if k.startswith(series + "{") and label in k
    )


def labelled(samples: dict[str, float], series: str, **labels: str) -> float:
    """The sum of ``series``'s samples with all these labels."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        v
        for k, v in samples.items()
        if k.startswith(series + "{") and all(w in k for w in wanted)
    )


def server_latency(
    before: dict[str, float], after: dict[str, float], tenant: str
) -> dict[str, Any]:
    """``sentiment_tenant_request_seconds`` between two scrapes: the server's part.

    The admitted requests counted, the share answered within 250 ms (a 200 ms
    deadline plus 50), and the upper bound of the slowest bucket with any.
    """
    series = "sentiment_tenant_request_seconds_bucket"
    buckets: dict[float, float] = {}
    for name, value in after.items():
        if name.startswith(series + "{") and f'tenant="{tenant}"' in name:
            bound = name.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = value - before.get(name, 0.0)
    if not buckets:
        return {"admitted": 0, "within_250_ms": None, "slowest_bucket_s": None}
    total = buckets[float("inf")]
    within = buckets.get(0.25, 0.0)
    slowest = next(
        (
            bound
            for bound in sorted(buckets)
            if buckets[bound] >= total  # the first bound holding every request
        ),
        None,
    )
    return {
        "admitted": total,
        "within_250_ms": round(within / total, 4) if total else None,
        "slowest_bucket_s": slowest,
    }


class Sampler:
    """Per-tenant admitted and reviews counters, read every half second."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.points: list[tuple[float, dict[str, float]]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        """Sample until stopped (the thread's body)."""
        start = time.perf_counter()
        while not self.stop.is_set():
            samples = scrape(self.url)
            point = {
                f"{series}:{tenant}": tenant_value(samples, series, tenant)
                for series in SERIES
                for tenant in KEYS
            }
            self.points.append((time.perf_counter() - start, point))
            self.stop.wait(SAMPLE_EVERY_S)

    def rates(self, series: str) -> dict[str, list[tuple[float, float]]]:
        """Per tenant, (seconds, per second) between consecutive samples."""
        out: dict[str, list[tuple[float, float]]] = {t: [] for t in KEYS}
        for (t0, p0), (t1, p1) in zip(self.points, self.points[1:], strict=False):
            for tenant in KEYS:
                key = f"{series}:{tenant}"
                out[tenant].append(
                    (round(t1, 2), round((p1[key] - p0[key]) / (t1 - t0), 1))
                )
        return out


@contextmanager
def sampling(url: str) -> Iterator[Sampler]:
    """Sample the per-tenant counters while the block runs."""
    sampler = Sampler(url)
    sampler.thread.start()
    try:
        yield sampler
    finally:
        sampler.stop.set()
        sampler.thread.join()


@contextmanager
def tenant_server(
    work: Path, weights: dict[str, float], settings: dict[str, str] | None = None
) -> Iterator[str]:
    """This service with tenants ``a`` and ``b`` at these weights."""
    tenants = {t: {"key": KEYS[t], "weight": w} for t, w in weights.items()}
    path = work / f"tenants-{'-'.join(str(w) for w in weights.values())}.json"
    path.write_text(json.dumps({"tenants": tenants}))
    env = {
        "SENTIMENT_MODEL_TAG": MODEL_TAG,
        "SENTIMENT_TENANTS_FILE": str(path),
        **(settings or {}),
    }
    log = work / f"{path.stem}.log"
    with bentoml_process("service:SentimentClassifier", log, env) as (process, url):
        SERVER_PIDS[url] = process.pid
        yield url


def wrk_point(
    url: str, bodies: Path, tenant: str, connections: int, seconds: float
) -> dict[str, Any]:
    """One wrk run with ``tenant``'s key, summarised."""
    raw = run_wrk(url, bodies, connections, seconds, timeout_s=15, headers=auth(tenant))
    return summarise(raw, 1)


def together(
    url: str, bodies: Path, loads: dict[str, int], seconds: float
) -> dict[str, dict[str, Any]]:
    """Run wrk for each tenant at once: ``{tenant: connections}``."""
    with concurrent.futures.ThreadPoolExecutor(len(loads)) as pool:
        futures = {
            tenant: pool.submit(wrk_point, url, bodies, tenant, c, seconds)
            for tenant, c in loads.items()
        }
        return {tenant: future.result() for tenant, future in futures.items()}


@contextmanager
def server_cores(url: str) -> Iterator[dict[str, float]]:
    """The cores the server's process tree used while the block ran."""
    used: dict[str, float] = {}
    cpu, wall = tree_cpu_seconds(SERVER_PIDS[url]), time.monotonic()
    yield used
    cpu = tree_cpu_seconds(SERVER_PIDS[url]) - cpu
    used["server_cores"] = cpu / (time.monotonic() - wall)


@contextmanager
def server_view(url: str) -> Iterator[dict[str, Any]]:
    """The server's cores while the block runs."""
    view: dict[str, Any] = {}
    with server_cores(url) as used:
        yield view
    view["server_cores"] = round(used["server_cores"], 2)


def cost_lines(a64: dict[str, Any], b8: dict[str, Any]) -> list[str]:
    """What each closed loop alone costs the server, per answer (its CPU)."""
    if "server_cores" not in a64 or "server_cores" not in b8:
        return []

    def us(point: dict[str, Any]) -> float:
        return float(point["server_cores"]) / float(point["req_per_s"]) * 1e6

    return [
        f"Server CPU alone: a at 64 connections {a64['server_cores']} cores, "
        f"{us(a64):.0f} us per answer; b at 8 connections {b8['server_cores']} "
        f"cores, {us(b8):.0f} us per answer (smaller batches). 95% of b's rate "
        f"alone at that cost would take {0.95 * b8['server_cores']:.2f} cores.",
        "",
    ]


def isolation(url: str, bodies: Path, seconds: float) -> dict[str, Any]:
    """Tenant b alone at 8, a alone at 64, then a at 1,000 beside b at 8."""
    with server_view(url) as view:
        reference = wrk_point(url, bodies, "a", 64, seconds)
    reference.update(view)
    time.sleep(2)
    with server_view(url) as view:
        alone = wrk_point(url, bodies, "b", 8, seconds)
    alone.update(view)
    time.sleep(2)
    with sampling(url) as sampler, server_view(url) as view:
        both = together(url, bodies, {"a": 1000, "b": 8}, seconds)
    both["b"].update(view)
    b, a = both["b"], both["a"]
    total = a["req_per_s"] + b["req_per_s"]
    # b as an open loop: it asks for PACED_B answers/s whatever the latency.
    lines = [line.encode() for line in bodies.read_text().splitlines()[:500]]
    paced = {
        "url": f"{url}/classify",
        "bodies": lines,
        "rate": PACED_B,
        "seconds": seconds,
        "headers": auth("b"),
    }
    time.sleep(2)
    with server_view(url) as view:
        (paced_alone,) = run_open_loops([paced])
    paced_alone.update(view)
    time.sleep(2)
    paced_beside = paced_beside_flood(url, bodies, paced, seconds)
    share = {**paced, "rate": round(PACED_B_SHARE * reference["req_per_s"])}
    time.sleep(2)
    with server_view(url) as view:
        (share_alone,) = run_open_loops([share])
    share_alone.update(view)
    time.sleep(2)
    share_beside = paced_beside_flood(url, bodies, share, seconds)
    return {
        "b_paced_alone": paced_alone,
        "b_paced_beside_a_1000": paced_beside,
        "b_share_alone": share_alone,
        "b_share_beside_a_1000": share_beside,
        "a_alone_64": reference,
        "b_alone_8": alone,
        "a_1000_beside_b_8": both,
        "b_share_of_alone": round(b["req_per_s"] / alone["req_per_s"], 3),
        "b_p99_x_alone": round(b["p99_ms"] / alone["p99_ms"], 2),
        "total_x_64": round(total / reference["req_per_s"], 3),
        "series": sampler.rates("sentiment_tenant_admitted_total"),
    }


def paced_beside_flood(
    url: str, bodies: Path, paced: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """The open loop ``paced`` (tenant b) while a floods with 1,000 connections."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        flood = pool.submit(wrk_point, url, bodies, "a", 1000, seconds)
        time.sleep(1)
        with server_view(url) as view:
            (beside,) = run_open_loops([{**paced, "seconds": seconds - 2}])
        flood.result()
    return {**beside, **view}


def deadlines(
    url: str, capacity: float, seconds: float, factor: float
) -> dict[str, Any]:
    """An open loop at ``factor`` x capacity, every request with a 200 ms deadline."""
    before = scrape(url)
    bodies = [json.dumps({"texts": [r]}).encode() for r in list(corpus_reviews())[:500]]
    with server_cores(url) as used:
        (summary,) = run_open_loops(
            [
                {
                    "url": f"{url}/classify",
                    "bodies": bodies,
                    "rate": factor * capacity,
                    "seconds": seconds,
                    "headers": {**auth("a"), "X-Request-Timeout-Ms": "200"},
                    "max_connections": DEADLINE_CONNECTIONS,
                    "max_wait_s": DEADLINE_MAX_WAIT_S,
                    "preconnect": True,
                }
            ]
        )
    after = scrape(url)

    def delta(series: str, **labels: str) -> float:
        return labelled(after, series, **labels) - labelled(before, series, **labels)

    return {
        "open_loop": summary,
        "server_cores": round(used["server_cores"], 2),
        "refused_at_admission": delta(
            "sentiment_admission_refusals_total", reason="deadline"
        ),
        "dropped_from_batch": delta("sentiment_batch_dropped_total", reason="deadline"),
        "slowest_200_ms": summary["max_ok_ms"],
        "slowest_200_from_send_ms": summary["max_ok_from_send_ms"],
        "server": server_latency(before, after, "a"),
    }


def disconnects(url: str, bodies: Path, seconds: float) -> dict[str, Any]:
    """Tenant a at 1,024 alone, then beside its own clients that leave at 50 ms."""
    alone = wrk_point(url, bodies, "a", 1024, seconds)
    time.sleep(3)
    before = scrape(url)
    lines = [line.encode() for line in bodies.read_text().splitlines()[:500]]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        saturating = pool.submit(wrk_point, url, bodies, "a", 1024, seconds)
        time.sleep(1)  # the queue builds before the leavers come
        (leaving,) = run_open_loops(
            [
                {
                    "url": f"{url}/classify",
                    "bodies": lines,
                    "rate": 200,
                    "seconds": seconds - 3,
                    "headers": auth("a"),
                    "abandon_after_s": 0.05,
                }
            ]
        )
        # The leavers' last requests reach their turn (a's wait is ~0.3 s); read
        # the counters before wrk ends, as its own pending requests then
        # disconnect too and would be counted with the leavers'.
        time.sleep(1)
        after = scrape(url)
        beside = saturating.result()

    def delta(series: str, **labels: str) -> float:
        return labelled(after, series, **labels) - labelled(before, series, **labels)

    dropped = delta(
        "sentiment_admission_refusals_total", reason="disconnected", tenant="a"
    ) + delta("sentiment_batch_dropped_total", reason="disconnect", tenant="a")
    refused = delta("sentiment_admission_refusals_total", tenant="a") - delta(
        "sentiment_admission_refusals_total", reason="disconnected", tenant="a"
    )
    scored = leaving["sent"] - dropped - leaving["refused"]
    return {
        "a_alone_1024": alone,
        "a_1024_beside_leavers": beside,
        "leavers": leaving,
        "dropped_disconnected": dropped,
        "refused_other_a": refused,
        "leavers_scored_at_most": max(scored, 0),
        "leavers_scored_share": round(max(scored, 0) / max(leaving["sent"], 1), 4),
        "a_goodput_x_alone": round(beside["req_per_s"] / alone["req_per_s"], 3),
    }


def weights(url: str, bodies: Path, seconds: float) -> dict[str, Any]:
    """Both tenants saturating (512 connections each); reviews by tenant."""
    before = scrape(url)
    with sampling(url) as sampler:
        both = together(url, bodies, {"a": 512, "b": 512}, seconds)
    after = scrape(url)
    reviews = {
        t: tenant_value(after, "sentiment_tenant_reviews_total", t)
        - tenant_value(before, "sentiment_tenant_reviews_total", t)
        for t in KEYS
    }
    return {
        "wrk": both,
        "reviews": reviews,
        "split": round(reviews["a"] / max(reviews["b"], 1), 3),
        "series": sampler.rates("sentiment_tenant_reviews_total"),
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as tables."""
    iso, dl, dc, w = (
        report["isolation"],
        report["deadlines"],
        report["disconnects"],
        report["weights_3_1"],
    )
    a64, b8 = iso["a_alone_64"], iso["b_alone_8"]
    both = iso["a_1000_beside_b_8"]
    lines = [
        "# Tenants benchmark",
        "",
        f"{report['date']}, {report['machine']}; model `{report['model']}`; "
        f"{report['duration_s']} s per point; wrk (closed loops) and "
        "`devtools.openloop`; single reviews; one server, 2 workers, defaults.",
        "",
        "## Isolation (weights 1:1)",
        "",
        "| load | a answers/s | b answers/s | b p99 ms | a non-200 |",
        "|---|---:|---:|---:|---:|",
        f"| a alone, 64 connections | {a64['req_per_s']:,.0f} | | | "
        f"{a64['errors_non_200']:,} |",
        f"| b alone, 8 connections | | {b8['req_per_s']:,.0f} | {b8['p99_ms']} | |",
        f"| a 1,000 + b 8 | {both['a']['req_per_s']:,.0f} | "
        f"{both['b']['req_per_s']:,.0f} | {both['b']['p99_ms']} | "
        f"{both['a']['errors_non_200']:,} (b: {both['b']['errors_non_200']}) |",
        "",
        f"b gets {iso['b_share_of_alone']:.1%} of its rate alone, its p99 is "
        f"{iso['b_p99_x_alone']}x alone; total goodput {iso['total_x_64']}x "
        "a alone at 64 connections.",
        "",
        *cost_lines(a64, b8),
        f"b as an open loop asking {PACED_B}/s: alone "
        f"{iso['b_paced_alone']['ok']:,} of {iso['b_paced_alone']['sent']:,} "
        f"answered 200, p99 {iso['b_paced_alone']['p99_ok_ms']} ms; beside a at "
        f"1,000 connections {iso['b_paced_beside_a_1000']['ok']:,} of "
        f"{iso['b_paced_beside_a_1000']['sent']:,}, p99 "
        f"{iso['b_paced_beside_a_1000']['p99_ok_ms']} ms.",
        "",
        f"b as an open loop asking {PACED_B_SHARE:.0%} of a's 64-connection "
        f"goodput ({iso['b_share_alone']['offered_per_s']:,.0f}/s): alone "
        f"{iso['b_share_alone']['ok']:,} of {iso['b_share_alone']['sent']:,} "
        f"answered 200, p99 {iso['b_share_alone']['p99_ok_ms']} ms; beside a at "
        f"1,000 connections {iso['b_share_beside_a_1000']['ok']:,} of "
        f"{iso['b_share_beside_a_1000']['sent']:,}, p99 "
        f"{iso['b_share_beside_a_1000']['p99_ok_ms']} ms.",
        "",
        "## Deadlines (200 ms, open loop at 2x and 4x the 64-connection goodput)",
        "",
        "Latency from when each request was due (includes waiting for a connection "
        "in the generator) and from when it was written to its socket. The "
        f"generator opens {DEADLINE_CONNECTIONS} connections first, and skips "
        f"(counts, never sends) a request that found none free for "
        f"{DEADLINE_MAX_WAIT_S * 1000:.0f} ms.",
        "",
        "| offered | sent | skipped | answered 200/s | 504 | other | socket errors "
        "| connections | p99 of 200s ms (from send) | slowest 200 ms (from send) "
        "| refused at admission | dropped from a batch | server: admitted answered "
        "within 250 ms | server: slowest (bucket) | server cores | generator cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for factor, point in dl.items():
        ol = point["open_loop"]
        server = point.get("server", {})
        share = server.get("within_250_ms")
        within = "" if share is None else f"{share:.2%}"
        bound = server.get("slowest_bucket_s")
        slowest = "" if bound is None else f"<= {bound * 1000:g} ms"
        other = sum(v for k, v in ol["statuses"].items() if k not in (200, 504))
        lines.append(
            f"| {factor} = {ol['offered_per_s']:,.0f}/s | {ol['sent']:,} "
            f"| {ol.get('skipped', 0):,} | {ol['goodput_per_s']:,.0f} "
            f"| {ol['statuses'].get(504, 0):,} | {other:,} | {ol['socket_errors']:,} "
            f"| {ol['connections']:,} | {ol['p99_ok_ms']} "
            f"({ol['p99_ok_from_send_ms']}) | {ol['max_ok_ms']} "
            f"({ol['max_ok_from_send_ms']}) | {point['refused_at_admission']:,.0f} | "
            f"{point['dropped_from_batch']:,.0f} | {within} | {slowest} "
            f"| {point.get('server_cores', '')} | {ol.get('generator_cores', '')} |"
        )
    lines += [
        "",
        "## Disconnects (clients of a's key leaving after 50 ms, beside a at 1,024)",
        "",
        "| leavers sent | gave up | answered in time | dropped (counted) | scored at "
        "most | a answers/s beside | a alone at 1,024 |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {dc['leavers']['sent']:,} | {dc['leavers']['abandoned']:,} | "
        f"{dc['leavers']['ok']:,} | {dc['dropped_disconnected']:,.0f} | "
        f"{dc['leavers_scored_at_most']:,.0f} ({dc['leavers_scored_share']:.1%}) | "
        f"{dc['a_1024_beside_leavers']['req_per_s']:,.0f} | "
        f"{dc['a_alone_1024']['req_per_s']:,.0f} |",
        "",
        "## Weights 3:1 (both at 512 connections)",
        "",
        "| tenant | weight | reviews served | answers/s | p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for tenant, weight in (("a", 3), ("b", 1)):
        lines.append(
            f"| {tenant} | {weight} | {w['reviews'][tenant]:,.0f} | "
            f"{w['wrk'][tenant]['req_per_s']:,.0f} | {w['wrk'][tenant]['p99_ms']} |"
        )
    lines += ["", f"Split a:b = {w['split']}:1 (target 3:1).", ""]
    lines += [
        "## The floods clients send (`bench.shapes`, wrk, the 3:1 server)",
        "",
        shapes.table({"this tree": [report["shapes"]]}),
        "",
        "Capacity: a alone at 64 connections (answers/s); the floods: a at "
        f"{shapes.FLOOD_CONNECTIONS:,} connections, without and with "
        f"`X-Request-Timeout-Ms: {shapes.DEADLINE_MS}` (200s/s over capacity); "
        "split: reviews served a:b (target 3).",
        "",
    ]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    """Admitted per second by tenant over time: isolation and 3:1 runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    runs = (
        ("a 1,000 + b 8 connections, weights 1:1 (admitted/s)", "isolation"),
        ("a 512 + b 512, weights 3:1 (reviews/s)", "weights_3_1"),
    )
    for ax, (title, key) in zip(axes, runs, strict=True):
        for tenant, points in report[key]["series"].items():
            ax.plot([p[0] for p in points], [p[1] for p in points], label=tenant)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("seconds")
        ax.grid(alpha=0.3)
        ax.legend()
    axes[0].set_ylabel("per second, from /metrics")
    axes[0].set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Run the tenants benchmark and write the reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds per point")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting (e.g. SENTIMENT_MAX_IN_FLIGHT=16); repeatable",
    )
    parser.add_argument(
        "--only",
        choices=("isolation", "deadlines"),
        help="run one section, write no report",
    )
    args = parser.parse_args(argv)
    settings = dict(item.split("=", 1) for item in args.set)
    raise_file_limit()
    seconds = args.duration
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{os.cpu_count()} cores",
        "model": MODEL_TAG,
        "duration_s": seconds,
        "settings": settings,
    }
    with tempfile.TemporaryDirectory(prefix="bench-tenants-") as tmp:
        work = Path(tmp)
        reviews = list(corpus_reviews())
        bodies = write_bodies(reviews, 1, work / "single.jsonl")
        with tenant_server(work, {"a": 1, "b": 1}, settings) as url:
            wrk_point(url, bodies, "a", 16, 3)  # warm-up
            if args.only == "deadlines":
                capacity = wrk_point(url, bodies, "a", 64, seconds)["req_per_s"]
                print(json.dumps({"capacity_64": capacity}), flush=True)
                for factor in (2, 4):
                    time.sleep(3)
                    print(json.dumps(deadlines(url, capacity, seconds, factor)))
                return 0
            report["isolation"] = iso = isolation(url, bodies, seconds)
            print(
                json.dumps({k: v for k, v in iso.items() if k != "series"}), flush=True
            )
            if args.only:
                return 0
            time.sleep(3)
            capacity = iso["a_alone_64"]["req_per_s"]
            report["deadlines"] = {}
            for factor in (2, 4):
                point = deadlines(url, capacity, seconds, factor)
                report["deadlines"][f"{factor}x"] = point
                print(json.dumps(point), flush=True)
                time.sleep(5)
            report["disconnects"] = disconnects(url, bodies, seconds)
            print(json.dumps(report["disconnects"]), flush=True)
        with tenant_server(work, {"a": 3, "b": 1}, settings) as url:
            wrk_point(url, bodies, "a", 16, 3)
            report["weights_3_1"] = weights(url, bodies, seconds)
            print(
                json.dumps(
                    {k: v for k, v in report["weights_3_1"].items() if k != "series"}
                ),
                flush=True,
            )
            time.sleep(3)
            bulk = write_bodies(reviews, shapes.BULK, work / "bulk.jsonl")
            flood = shapes.measure(url, SERVER_PIDS[url], bodies, bulk, seconds)
            report["shapes"] = shapes.summary(flood)
            print(json.dumps(report["shapes"]), flush=True)
    print(write_report("tenants", report, markdown, plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())

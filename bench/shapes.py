"""The floods clients really send, with wrk: deadlines on every request, two load shapes at 3:1.

One server with tenants ``a`` (weight 3) and ``b`` (weight 1), single reviews,
wrk (one process, closed loops) for every point:

1. capacity: ``a`` alone at 64 connections, and at 256 and 4,096 (goodput
   against 64's, server CPU per answer at each);
2. the deadline flood: ``a`` at 1,024 connections, every request with
   ``X-Request-Timeout-Ms: 200``; goodput against capacity and the 200s' p99
   from the client (each request's ``X-Request-ID`` is its send time, echoed by
   the server), beside the same flood without deadlines;
3. weights 3:1: both tenants saturating, at 256 + 256 and at 512 + 512
   connections (the shape ``bench.tenants`` has always measured); reviews
   served by tenant, from ``/metrics``, in the middle of each point.

With ``--base TREE`` each round serves both trees one after the other
(alternating their order), so their ratios come from the machine's same
moments. Usage: ``python -m bench.shapes [--base ../main] [--rounds 2]``; prints
one JSON line per point and a table, writes nothing. ``bench.tenants`` runs
:func:`measure` once on its 3:1 server for ``make bench-tenants``' report.
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
from statistics import median
from typing import Any

import httpx

from bench.overload import raise_file_limit
from devtools.corpus import corpus_reviews
from devtools.placement import holders
from devtools.proc import tree_cpu_seconds
from devtools.servers import PROJECT_DIR, bentoml_process
from devtools.wrk import run_wrk, summarise, write_bodies

MODEL_TAG = os.environ.get("SENTIMENT_MODEL_TAG", "sentiment:latest")
KEYS = {"a": "bench-key-a", "b": "bench-key-b"}
WEIGHTS = {"a": 3, "b": 1}
DEADLINE_MS = 200
FLOOD_CONNECTIONS = 1024
MORE_CONNECTIONS = (256, 4096)  # single reviews' goodput beside 64's and 1,024's
BULK = 100  # reviews per body in the bulk point
SPLITS = ((256, 256), (512, 512))
PAUSE_S = 2  # between points: the last point's connections close
CENSUS_AFTER_S = 3  # into a split point: count each worker's connections by tenant
# Reviews by tenant are counted from 1 s into a point to 0.5 s before its end: the
# wrk processes start and stop a few hundred ms apart, and one tenant alone at
# either edge would count as its share.
COUNT_FROM_S, COUNT_UNTIL_END_S = 1.0, 0.5


def auth(tenant: str) -> dict[str, str]:
    """The Authorization header of ``tenant``."""
    return {"Authorization": f"Bearer {KEYS[tenant]}"}


def reviews_by_tenant(url: str) -> dict[str, float]:
    """``sentiment_tenant_reviews_total`` by tenant, from ``/metrics``."""
    reviews = dict.fromkeys(KEYS, 0.0)
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("sentiment_tenant_reviews_total{"):
            for tenant in KEYS:
                if f'tenant="{tenant}"' in line:
                    reviews[tenant] += float(line.rsplit(" ", 1)[1])
    return reviews


@contextmanager
def weighted_server(tree: Path, work: Path, name: str) -> Iterator[tuple[int, str]]:
    """``tree``'s service with tenants a and b at 3:1; yield its PID and URL."""
    tenants = {t: {"key": KEYS[t], "weight": w} for t, w in WEIGHTS.items()}
    path = work / "tenants-3-1.json"
    path.write_text(json.dumps({"tenants": tenants}))
    env = {
        "SENTIMENT_MODEL_TAG": MODEL_TAG,
        "SENTIMENT_TENANTS_FILE": str(path),
        "PYTHONPATH": str(tree),
        "SENTIMENT_GRPC_PORT": "0",
    }
    log = work / f"{name}.log"
    served = bentoml_process("service:SentimentClassifier", log, env, cwd=tree)
    with served as (process, url):
        yield process.pid, url


def wrk_tenant(pid: int) -> str | None:
    """Which tenant a wrk process loads, from its environment's key."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    return next((t for t, key in KEYS.items() if key.encode() in environ), None)


def census(server_pid: int, port: int) -> dict[str, dict[str, int]]:
    """Established connections to ``port``: by serving worker, by tenant.

    Each worker decides its own shares; this tells how evenly the kernel dealt
    each tenant's connections (this process's wrk children) to the workers.
    """
    server = holders(server_pid, port)  # client port -> worker pid
    client = holders(os.getpid(), port, local=False)  # client port -> wrk pid
    tenants = {pid: wrk_tenant(pid) for pid in set(client.values())}
    out: dict[str, dict[str, int]] = {}
    for peer, worker in server.items():
        tenant = tenants.get(client.get(peer, -1)) or "?"
        counts = out.setdefault(str(worker), {})
        counts[tenant] = counts.get(tenant, 0) + 1
    return out


def reviews_between(url: str, start_s: float, length_s: float) -> dict[str, float]:
    """Reviews served by tenant from ``start_s`` from now, for ``length_s``."""
    time.sleep(start_s)
    before = reviews_by_tenant(url)
    time.sleep(length_s)
    after = reviews_by_tenant(url)
    return {t: after[t] - before[t] for t in KEYS}


def reviews_while_loaded(url: str, seconds: float) -> dict[str, float]:
    """Reviews served by tenant in the middle of a point, every tenant loading."""
    if round(seconds) < COUNT_FROM_S + COUNT_UNTIL_END_S + 1:
        raise ValueError(f"a split point needs at least 3 s, not {seconds}")
    length = round(seconds) - COUNT_FROM_S - COUNT_UNTIL_END_S
    return reviews_between(url, COUNT_FROM_S, length)


def point(
    url: str,
    pid: int,
    bodies: Path,
    loads: dict[str, int],
    seconds: float,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run wrk for each tenant at once (``{tenant: connections}``), with server CPU."""
    cpu, wall = tree_cpu_seconds(pid), time.monotonic()
    seen: dict[str, dict[str, int]] = {}
    port = int(url.rsplit(":", 1)[1])
    timer = threading.Timer(CENSUS_AFTER_S, lambda: seen.update(census(pid, port)))
    timer.start()
    split = len(loads) > 1  # one tenant alone: no split to count, no scrape under load
    with concurrent.futures.ThreadPoolExecutor(len(loads) + 1) as pool:
        counted = pool.submit(reviews_while_loaded, url, seconds) if split else None
        futures = {
            tenant: pool.submit(
                run_wrk,
                url,
                bodies,
                connections,
                seconds,
                15,
                {**auth(tenant), **(extra or {})},
                True,
            )
            for tenant, connections in loads.items()
        }
        raw = {tenant: future.result() for tenant, future in futures.items()}
        reviews = counted.result() if counted is not None else None
    timer.cancel()
    cpu, wall = tree_cpu_seconds(pid) - cpu, time.monotonic() - wall
    result: dict[str, Any] = {t: summarise(r, 1) for t, r in raw.items()}
    answered = sum(r["requests"] for r in raw.values())
    ok = sum(r["statuses"].get(200, 0) for r in raw.values())
    result["server_cores"] = round(cpu / wall, 2)
    # per 200, and per response of any status (refusals included)
    result["cpu_us_per_answer"] = round(cpu / max(ok, 1) * 1e6, 1)
    result["cpu_us_per_response"] = round(cpu / max(answered, 1) * 1e6, 1)
    result["reviews"] = reviews
    result["workers"] = seen
    return result


def measure(
    url: str, pid: int, bodies: Path, bulk: Path, seconds: float
) -> dict[str, Any]:
    """Every point of the module docstring on one server."""
    run_wrk(url, bodies, 16, 3, headers=auth("a"))  # warm-up
    out: dict[str, Any] = {"capacity": point(url, pid, bodies, {"a": 64}, seconds)}
    time.sleep(PAUSE_S)
    out["bulk"] = point(url, pid, bulk, {"a": 64}, seconds)
    capacity = out["capacity"]["a"]["req_per_s"]
    deadline = {"X-Request-Timeout-Ms": str(DEADLINE_MS)}
    floods: list[tuple[str, int, dict[str, str] | None]]
    floods = [(f"conns_{n}", n, None) for n in MORE_CONNECTIONS]
    floods += [("flood", FLOOD_CONNECTIONS, None)]
    floods += [("deadline_flood", FLOOD_CONNECTIONS, deadline)]
    for name, connections, extra in floods:
        time.sleep(PAUSE_S)
        flood = point(url, pid, bodies, {"a": connections}, seconds, extra)
        flood["x_capacity"] = round(flood["a"]["req_per_s"] / capacity, 3)
        out[name] = flood
    for a, b in SPLITS:
        time.sleep(PAUSE_S)
        split = point(url, pid, bodies, {"a": a, "b": b}, seconds)
        reviews = split["reviews"]
        split["split"] = round(reviews["a"] / max(reviews["b"], 1), 3)
        out[f"weights_{a}_{b}"] = split
    return out


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The figures the bars read, from one :func:`measure`."""
    flood = result["deadline_flood"]
    cost = {
        f"cpu_us_per_answer_{n}": result[name]["cpu_us_per_answer"]
        for n, name in (
            (64, "capacity"),
            *((n, f"conns_{n}") for n in MORE_CONNECTIONS),
            (FLOOD_CONNECTIONS, "flood"),
        )
    }
    return {
        "capacity": result["capacity"]["a"]["req_per_s"],
        "bulk_reviews_per_s": result["bulk"]["a"]["req_per_s"] * BULK,
        **{
            f"x_capacity_{n}": result[f"conns_{n}"]["x_capacity"]
            for n in MORE_CONNECTIONS
        },
        "flood_x_capacity": result["flood"]["x_capacity"],
        "deadline_x_capacity": flood["x_capacity"],
        "deadline_non_200": flood["a"]["errors_non_200"],
        "deadline_ok_p99_ms": flood["a"].get("ok_p99_ms"),
        "deadline_cpu_us_per_answer": flood["cpu_us_per_answer"],
        **cost,
        **{f"split_{a}_{b}": result[f"weights_{a}_{b}"]["split"] for a, b in SPLITS},
    }


def figure(value: float) -> str:
    """A table cell: whole numbers with thousands separators, ratios to 3 figures."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(rows: dict[str, list[dict[str, Any]]]) -> str:
    """Medians by tree of :func:`summary`'s figures, as a markdown table."""
    keys = list(next(iter(rows.values()))[0])
    lines = ["| figure | " + " | ".join(rows) + " |", "|---|" + "---:|" * len(rows)]
    for key in keys:
        cells = []
        for tree in rows:
            values = [r[key] for r in rows[tree] if r[key] is not None]
            cells.append(figure(median(values)) if values else "")
        lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(
    trees: dict[str, Path], rounds: int, seconds: float, work: Path
) -> dict[str, list[dict[str, Any]]]:
    """Measure each tree ``rounds`` times, alternating; every result by tree."""
    reviews = list(corpus_reviews())
    bodies = write_bodies(reviews, 1, work / "single.jsonl")
    bulk = write_bodies(reviews, BULK, work / "bulk.jsonl")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for round_ in range(rounds):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in order:
            with weighted_server(trees[name], work, f"{name}-{round_}") as (pid, url):
                result = measure(url, pid, bodies, bulk, seconds)
            result["summary"] = summary(result)
            results[name].append(result)
            print(json.dumps({"tree": name, "round": round_, **result}), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    """Measure this tree (and ``--base``, alternately); print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, help="another tree, served alternately")
    parser.add_argument(
        "--tree", action="append", default=[], help="NAME=PATH: one more tree"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10, help="seconds per point")
    args = parser.parse_args(argv)
    raise_file_limit()
    trees = {"this": PROJECT_DIR}
    if args.base is not None:
        trees = {"base": args.base.resolve(), **trees}
    for named in args.tree:
        name, _, path = named.partition("=")
        trees[name] = Path(path).resolve()
    with tempfile.TemporaryDirectory(prefix="bench-shapes-") as tmp:
        results = run(trees, args.rounds, args.duration, Path(tmp))
    print(table({tree: [r["summary"] for r in rs] for tree, rs in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a worker's time goes under 100-review requests: py-spy, stage by stage.

The service runs with two workers under wrk (64 connections, bodies of 100 real
reviews). py-spy samples both workers at once: one into a flame graph (SVG), the
other into collapsed stacks, which :func:`stage_of` sorts into the stages the
issue names, so the table and the picture come from the same load. A stage's
microseconds per review are its samples' seconds over the reviews that worker
answered (half of wrk's, as the two share the load).

py-spy samples the thread holding the GIL (``--gil``): a worker is one Python
process, so its GIL is what it runs out of. Without ``--gil`` a thread in
``epoll_wait`` or parked in a queue counts as busy whenever the two cores are
contended (a third of the samples, measured). So "model" is the model's GIL
time; numpy's own loops run without it and are not counted.

Usage: ``python -m bench.profile --label after [--model-tag bench-accurate:...]``
(``make bench-profile``). Without a tag it trains ``bench-accurate`` into the
store. It writes ``bench/results/profile-LABEL.{json,md,svg}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.bulk import train_accurate
from devtools.corpus import corpus_reviews
from devtools.servers import PROJECT_DIR, free_port, ready_process, serve_command
from devtools.wrk import run_wrk, summarise, write_bodies

RESULTS_DIR = PROJECT_DIR / "bench" / "results"
PY_SPY = PROJECT_DIR / ".venv-litserve" / "bin" / "py-spy"
RATE_HZ = 250
CONNECTIONS = 64
REVIEWS = 100
# First match wins, innermost frame first, so the model's own frames are claimed
# before the dispatcher or the event loop that called them.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("sentiment/model/scorer.py", "sentiment/features/", "sklearn/")),
    ("review rules", ("sentiment/model/reviews.py", "check_review", "review_rules")),
    ("prediction dicts", ("sentiment/model/labels.py", "predictions (sentiment")),
    (
        "JSON encoding",
        ("to_http_response", "serialize_model", "model_dump", "orjson", "encode_"),
    ),
    (
        "request parsing (JSON + IO descriptor)",
        ("parse_request", "from_http_request", "deserialize_model", "model_validate"),
    ),
    (
        "dispatcher and batching",
        ("dispatcher.py", "batch_infer", "container.py", "to_thread"),
    ),
    (
        "the edge's model path (parse, answer)",
        ("sentiment/http/edge.py", "sentiment/http/handlers.py"),
    ),
    (
        "our middlewares",
        (
            "sentiment/http/",
            "sentiment/telemetry/",
            "sentiment/jobs/status",
            "sentiment/asgi.py",
        ),
    ),
    (
        "BentoML middlewares (metrics, timeout, context)",
        ("_bentoml_impl/server/http/", "bentoml/_internal/server/http/", "prometheus"),
    ),
    ("API endpoint (BentoML)", ("api_endpoint",)),
    (
        "HTTP (uvicorn, starlette)",
        ("uvicorn/", "starlette/", "h11", "httptools", "anyio/"),
    ),
)
OTHER = "other (threads, GC)"
# A stack that ends in the loop's runner is uvloop's C code (sockets, timers,
# scheduling) holding the GIL: transport work no Python frame names.
EVENT_LOOP = (
    "Runner.run (asyncio/runners.py",
    "event loop (uvloop: sockets, scheduling)",
)


def stage_of(stack: list[str]) -> str:
    """The stage a sampled stack belongs to (frames outermost first)."""
    if stack and stack[-1].startswith(EVENT_LOOP[0]):
        return EVENT_LOOP[1]
    for frame in reversed(stack):
        for stage, marks in STAGES:
            if any(mark in frame for mark in marks):
                return stage
    return OTHER


def collapsed_stages(path: Path) -> Counter[str]:
    """Samples per stage in py-spy's collapsed (``--format raw``) output."""
    counts: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of(stack.split(";"))] += int(count)
    return counts


def worker_pids(arbiter: int) -> list[int]:
    """The worker processes under ``bentoml serve``'s process (its descendants)."""
    import psutil  # type: ignore[import-untyped]

    return [
        child.pid
        for child in psutil.Process(arbiter).children(recursive=True)
        if "_bentoml_impl.worker.service" in " ".join(child.cmdline())
    ]


def py_spy(pid: int, seconds: float, out: Path, fmt: str) -> subprocess.Popen[bytes]:
    """Start sampling ``pid``'s GIL holder for ``seconds``, into ``out``."""
    command = [
        str(PY_SPY),
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(RATE_HZ),
        "--duration",
        str(round(seconds)),
        "--format",
        fmt,
        "--output",
        str(out),
        "--nonblocking",
        "--gil",  # the GIL holder only: an epoll wait or an idle thread is no cost
    ]
    return subprocess.Popen(  # noqa: S603  # nosec B603 - our own binary and args
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def profile(model_tag: str, seconds: float, work: Path, label: str) -> dict[str, Any]:
    """Serve, load, sample both workers; the per-stage table and the wrk result."""
    bodies = write_bodies(list(corpus_reviews()), REVIEWS, work / "bodies.jsonl")
    port = free_port()
    env = {**os.environ, "SENTIMENT_WORKERS": "2", "SENTIMENT_MODEL_TAG": model_tag}
    url = f"http://127.0.0.1:{port}"
    serve = serve_command("service:SentimentClassifier", port)
    svg = RESULTS_DIR / f"profile-{label}.svg"
    with ready_process(serve, url, work / "server.log", env) as server:
        run_wrk(url, bodies, CONNECTIONS, 5)  # warm-up, not recorded
        pids = worker_pids(server.pid)
        if len(pids) != 2:
            raise RuntimeError(f"expected 2 workers, found {pids}")
        raw = work / "stacks.txt"
        spies = [
            py_spy(pids[0], seconds, svg, "flamegraph"),
            py_spy(pids[1], seconds, raw, "raw"),
        ]
        time.sleep(1)  # py-spy attaches before the measured load starts
        row = summarise(run_wrk(url, bodies, CONNECTIONS, seconds), REVIEWS)
        for spy in spies:
            spy.wait(60)
    counts = collapsed_stages(raw)
    if keep := os.environ.get("BENCH_PROFILE_STACKS"):  # for a closer look
        Path(keep).write_text(raw.read_text())
    reviews = row["reviews_per_s"] * seconds / 2  # this worker's share
    us = {stage: n / RATE_HZ * 1e6 / reviews for stage, n in counts.most_common()}
    return {"label": label, "model": model_tag, "wrk": row, "us_per_review": us}


def markdown(report: dict[str, Any]) -> str:
    """The per-stage table as Markdown."""
    us, row = report["us_per_review"], report["wrk"]
    lines = [
        f"# Worker profile under 100-review requests ({report['label']})",
        "",
        f"`bench/profile.py`: 2 workers, wrk {CONNECTIONS} connections, "
        f"{REVIEWS} reviews per body, py-spy at {RATE_HZ} Hz on one worker; "
        f"{row['req_per_s']:,.0f} req/s = {row['reviews_per_s']:,.0f} reviews/s, "
        f"p99 {row['p99_ms']} ms. Flame graph of the other worker: "
        f"`profile-{report['label']}.svg`.",
        "",
        "| stage | µs per review | share |",
        "| --- | ---: | ---: |",
    ]
    total = sum(us.values())
    for stage, value in us.items():
        lines.append(f"| {stage} | {value:.1f} | {value / total:.0%} |")
    outside = total - us.get("model", 0.0)
    lines += [
        f"| **total** | **{total:.1f}** | |",
        f"| outside the model | {outside:.1f} | {outside / total:.0%} |",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Profile, then write bench/results/profile-LABEL.{json,md} (and the SVG)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="after")
    parser.add_argument("--model-tag", default="")
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args(argv)
    if not PY_SPY.exists():
        print(f"bench.profile: error: {PY_SPY} missing (make bench)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        tag = args.model_tag or train_accurate(Path(tmp))
        report = profile(tag, args.duration, Path(tmp), args.label)
    stem = RESULTS_DIR / f"profile-{args.label}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

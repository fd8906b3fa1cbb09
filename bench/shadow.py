"""What shadow scoring costs: single reviews at 64 connections, with and without.

Two servers of the same model (``SENTIMENT_MODEL_TAG``, default
``sentiment:latest``); the second also shadow-scores every batch with
``SENTIMENT_SHADOW_TAG`` (default: the same model, so the shadow does as much
model work as the live path: the dearest case). Runs alternate, A B A B ...,
so the machine's noise hits both; the ratio of the medians is the cost.

Usage: ``python -m bench.shadow [--rounds 3] [--duration 10]`` (part of
``make bench``). Writes ``bench/results/shadow.{json,md}``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx

from bench.alternate import alternate, medians
from bench.alternate import main as alternate_main
from devtools.corpus import corpus_reviews
from devtools.servers import bentoml_serve
from devtools.wrk import write_bodies

MODEL_TAG = os.environ.get("SENTIMENT_MODEL_TAG", "sentiment:latest")
CONNECTIONS = 64


def measure(rounds: int, seconds: float, work: Path) -> dict[str, Any]:
    """Alternate wrk runs on both servers; medians and the ratio."""
    shadow_tag = os.environ.get("SENTIMENT_SHADOW_TAG", MODEL_TAG)
    bodies = write_bodies(list(corpus_reviews()), 1, work / "bodies.jsonl")
    base = {"SENTIMENT_MODEL_TAG": MODEL_TAG}
    shadow_env = {**base, "SENTIMENT_SHADOW_TAG": shadow_tag}
    with (
        bentoml_serve("service:SentimentClassifier", work / "a.log", base) as plain,
        bentoml_serve(
            "service:SentimentClassifier", work / "b.log", shadow_env
        ) as shadow,
    ):
        targets = {
            "without": (f"{plain}/classify", bodies),
            "with shadow": (f"{shadow}/classify", bodies),
        }
        runs = alternate(targets, rounds, seconds, CONNECTIONS)
        metrics = httpx.get(f"{shadow}/metrics", timeout=30).text
    shadowed = metric_sum(metrics, "sentiment_shadow_reviews_total")
    dropped = metric_sum(metrics, "sentiment_shadow_dropped_total")
    rates = medians(runs)
    return {
        "model": MODEL_TAG,
        "shadow": shadow_tag,
        "sample": os.environ.get("SENTIMENT_SHADOW_SAMPLE", "1.0 (default)"),
        "duty": os.environ.get("SENTIMENT_SHADOW_DUTY", "0.05 (default)"),
        "connections": CONNECTIONS,
        "runs": runs,
        "median_req_per_s": rates,
        "ratio": round(rates["with shadow"] / rates["without"], 3),
        "shadowed_share": round(shadowed / max(shadowed + dropped, 1), 3),
        "errors": sum(
            r["errors_non_200"] + r["socket_errors"] for rs in runs.values() for r in rs
        ),
    }


def metric_sum(exposition: str, name: str) -> float:
    """The sum of one counter's samples in a Prometheus text exposition."""
    total = 0.0
    for line in exposition.splitlines():
        if line.startswith(name) and not line.startswith(f"{name}_created"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def markdown(report: dict[str, Any]) -> str:
    """The result as a small table."""
    lines = [
        "# Shadow scoring cost",
        "",
        f"Single reviews, {report['connections']} connections, model {report['model']}, "
        f"shadow {report['shadow']} on a sample of {report['sample']} of the "
        "batches; runs alternated, medians.",
        "",
        "| server | req/s (median) | p99 ms per run | errors |",
        "|---|---:|---|---:|",
    ]
    for name, rows in report["runs"].items():
        p99 = ", ".join(f"{r['p99_ms']:.0f}" for r in rows)
        errors = sum(r["errors_non_200"] + r["socket_errors"] for r in rows)
        lines.append(
            f"| {name} | {report['median_req_per_s'][name]:,.0f} | {p99} | {errors} |"
        )
    lines += [
        "",
        f"With shadow / without: **{report['ratio']:.2f}x**; the shadow scored "
        f"{report['shadowed_share']:.0%} of the reviews it was handed (duty "
        f"{report['duty']}), the rest dropped and counted.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and write bench/results/shadow.{json,md}."""
    return alternate_main("shadow", __doc__ or "", measure, markdown, argv)


if __name__ == "__main__":
    sys.exit(main())

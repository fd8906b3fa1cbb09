"""The Open Inference Protocol endpoint against ``/classify``, on one server.

Single reviews at 64 connections; runs alternate between the two endpoints
(``/classify`` then ``/v2/models/sentiment/infer``, round after round) so the
machine's noise hits both; the ratio of the medians is what the V2 translation
costs. Model: ``SENTIMENT_MODEL_TAG`` (default: the production model, else the
newest).

Usage: ``python -m bench.oip [--rounds 3] [--duration 10]`` (part of
``make bench``). Writes ``bench/results/oip.{json,md}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.alternate import alternate, medians
from bench.alternate import main as alternate_main
from devtools.corpus import corpus_reviews
from devtools.servers import bentoml_serve
from devtools.wrk import write_bodies

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
    with bentoml_serve("service:SentimentClassifier", work / "serve.log") as url:
        targets = {
            name: (f"{url}{path}", bodies[name]) for name, path in ENDPOINTS.items()
        }
        runs = alternate(targets, rounds, seconds, CONNECTIONS)
    rates = medians(runs)
    return {
        "connections": CONNECTIONS,
        "runs": runs,
        "median_req_per_s": rates,
        "ratio": round(rates["V2 infer"] / rates["/classify"], 3),
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
    """Run the comparison and write bench/results/oip.{json,md}."""
    return alternate_main("oip", __doc__ or "", measure, markdown, argv)


if __name__ == "__main__":
    sys.exit(main())

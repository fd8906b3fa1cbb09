"""Turn one benchmark run into its targets table, results.md and results.png."""

from __future__ import annotations

from pathlib import Path
from typing import Any

BATCH_SIZES = (1, 8, 32, 128, 512)
SHAPES = {"single": 1, "batch100": 100}
MIXED_USERS = 150
MIXED_SECONDS = 30


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
        f"point, wrk 1 thread, {report['workers']} workers per server, loopback.",
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

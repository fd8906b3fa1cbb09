"""Run the project's Locust profile headless, as `make loadtest` and the tests do."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path
from typing import Any

from devtools.servers import BIN_DIR, PROJECT_DIR

LOCUSTFILE = PROJECT_DIR / "loadtests" / "locustfile.py"


def run_locust(
    host: str,
    users: int,
    seconds: int,
    *extra: str,
    env: dict[str, str] | None = None,
    locustfile: Path = LOCUSTFILE,
) -> subprocess.CompletedProcess[str]:
    """A headless Locust run of ``locustfile`` against ``host`` (loopback only)."""
    return subprocess.run(  # noqa: S603 - our own venv's locust, our arguments
        [
            str(BIN_DIR / "locust"),
            "-f",
            str(locustfile),
            "--headless",
            "--host",
            host,
            "--users",
            str(users),
            "--spawn-rate",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--only-summary",
            *extra,
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": str(PROJECT_DIR), **(env or {})},
        capture_output=True,
        text=True,
        timeout=seconds + 90,
        check=False,
    )


def locust_totals(prefix: Path) -> dict[str, Any]:
    """Requests, failures, req/s and percentiles of a run, from its ``--csv`` stats."""
    with open(f"{prefix}_stats.csv") as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "req_per_s": round(float(total["Requests/s"]), 1),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
    }

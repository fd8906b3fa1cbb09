"""A short headless Locust run against a real `bentoml serve`: pass/fail on failures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from devtools.locust import run_locust
from devtools.servers import free_port

pytestmark = pytest.mark.e2e
SMOKE_SECONDS = 15


def test_locust_smoke_run_passes_and_writes_reports(
    server_url: str, tmp_path: Path
) -> None:
    result = run_locust(
        server_url,
        16,
        SMOKE_SECONDS,
        "--stop-timeout",
        "10",
        "--csv",
        str(tmp_path / "smoke"),
        "--html",
        str(tmp_path / "smoke.html"),
        env={
            "LOCUST_P95_MS": "0",
            "LOCUST_P99_MS": "0",
            "LOCUST_MAX_FAILURE_RATIO": "0",
        },
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "LOAD TEST PASSED" in output
    with (tmp_path / "smoke_stats.csv").open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert int(rows["Aggregated"]["Request Count"]) > 50
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert int(rows["/classify [1]"]["Request Count"]) > 0
    assert int(rows["/classify [malformed]"]["Request Count"]) > 0
    assert (tmp_path / "smoke.html").stat().st_size > 1000


def test_locust_run_fails_when_the_server_errors() -> None:
    # Nothing listens on this port: every request fails, so the run must exit 1.
    result = run_locust(f"http://127.0.0.1:{free_port()}", 2, 3)
    assert result.returncode == 1
    assert "LOAD TEST FAILED: failure ratio" in result.stdout + result.stderr

"""Static security checks that CI runs with the tests."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import PROJECT_DIR


def test_bandit_finds_nothing_in_service_and_train() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bandit", "-q", "-f", "json", "service.py", "train.py"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    assert report["metrics"]["_totals"]["loc"] > 300, "bandit scanned nothing"
    issues = [
        f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}"
        for r in report["results"]
    ]
    assert issues == []


def test_no_cors_by_default() -> None:
    import service

    assert "cors" not in service.SentimentClassifier.config.get("http", {})

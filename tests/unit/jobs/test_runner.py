from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment.errors import LimitExceeded
from sentiment.jobs import runner
from sentiment.jobs.slots import SLOTS

CLASSES = ["negative", "positive"]


def fake_proba(texts: list[str]) -> np.ndarray:
    positive = np.array([0.9 if "good" in t else 0.2 for t in texts])
    return np.column_stack([1 - positive, positive])


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path))
    store = tmp_path / "task_result.db"
    monkeypatch.setattr(runner, "task_store", lambda: store)
    with sqlite3.connect(store) as db:
        db.execute(
            "CREATE TABLE result (task_id TEXT, status TEXT, "
            "created_at TIMESTAMP, completed_at TIMESTAMP)"
        )
    return tmp_path


def stamp(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() - seconds_ago))


def test_prune_deletes_old_records_and_tasks_only(home: Path) -> None:
    runner.write_record("old", done=1)
    runner.write_record("new", done=1)
    old = time.time() - 7200
    os.utime(runner.record_path("old"), (old, old))
    with sqlite3.connect(home / "task_result.db") as db:
        db.executemany(
            "INSERT INTO result VALUES (?, ?, ?, ?)",
            [
                ("finished-old", "completed", stamp(7300), stamp(7200)),
                ("finished-new", "completed", stamp(100), stamp(50)),
                ("running-long", "in_progress", stamp(7200), None),
                ("abandoned", "in_progress", stamp(3600 + 90_000), None),
            ],
        )
    assert runner.prune(3600) == 1
    assert not runner.record_path("old").exists() and runner.record_path("new").exists()
    with sqlite3.connect(home / "task_result.db") as db:
        left = {row[0] for row in db.execute("SELECT task_id FROM result")}
    assert left == {"finished-new", "running-long"}


def test_a_job_escapes_formula_cells_unless_told_not_to(home: Path) -> None:
    upload = home / "in.csv"
    pd.DataFrame({"text": ["=good film", "a good film"]}).to_csv(upload, index=False)
    safe = runner.run_job("t1", upload, "text", fake_proba, CLASSES)
    assert "'=good film" in safe
    raw = runner.run_job(
        "t2",
        upload,
        "text",
        fake_proba,
        CLASSES,
        runner.JobOptions(spreadsheet_safe=False),
    )
    assert "'=good" not in raw and "=good film" in raw


def test_a_job_past_a_limit_fails_with_the_limit_recorded(home: Path) -> None:
    upload = home / "in.csv"
    pd.DataFrame({"text": ["a good film"] * 10}).to_csv(upload, index=False)
    with pytest.raises(LimitExceeded):
        runner.run_job(
            "t3", upload, "text", fake_proba, CLASSES, runner.JobOptions(max_rows=5)
        )
    assert "SENTIMENT_MAX_ROWS" in runner.read_record("t3")["error"]
    assert SLOTS.taken() == 0


def test_a_job_runs_under_its_requests_ticket(home: Path) -> None:
    upload = home / "in.csv"
    pd.DataFrame({"text": ["a good film"]}).to_csv(upload, index=False)
    seen = []
    ticket = SLOTS.take(1)
    assert ticket is not None

    def watching(texts: list[str]) -> np.ndarray:
        seen.append(ticket.running)
        return fake_proba(texts)

    with SLOTS.holding(ticket):
        runner.run_job("t4", upload, "text", watching, CLASSES)
    assert seen == [True] and not ticket.running
    SLOTS.release_edge(ticket)
    runner.run_job(runner.DIRECT, upload, "text", watching, CLASSES)  # no ticket: tests
    assert SLOTS.taken() == 0


def test_jobs_run_at_full_duty_only_on_a_jobs_replica() -> None:
    from sentiment.config import Settings

    assert runner.JobOptions.from_settings(Settings(role="jobs")).duty == 1.0
    for role in ("online", "all"):
        options = runner.JobOptions.from_settings(Settings(role=role))  # type: ignore[arg-type]
        assert options.duty == runner.JOB_DUTY

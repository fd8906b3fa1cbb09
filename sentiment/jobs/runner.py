"""Background file-scoring jobs (``/classify_file``): their state beyond BentoML's.

BentoML's task store (SQLite under ``BENTOML_HOME``, shared by the workers of one
server) knows a task's status and result. It does not know how many rows were
scored or rejected, why a task failed, or that the worker running it died (the
task then stays ``in_progress`` forever). Each job therefore writes a small JSON
record next to BentoML's store, and :class:`JobStatus` adds it to
``GET /classify_file/status``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bentoml.exceptions import BentoMLException, InternalServerError, InvalidArgument

from sentiment.config import Settings, bentoml_home
from sentiment.errors import SentimentError
from sentiment.files import write_atomically
from sentiment.jobs.slots import SLOTS
from sentiment.patches import task_store
from sentiment.telemetry.logs import SERVICE_LOGGER

JOB_DUTY = 0.5  # a job computes at most half the time: /classify keeps the rest
JOB_CHUNK_ROWS = 1024  # so /classify waits at most one chunk (~20 ms) for the model
DIRECT = "direct"  # the task ID of a job run inside its request (POST /classify_file)
logger = logging.getLogger(SERVICE_LOGGER)


@dataclass(frozen=True)
class JobOptions:
    """How a worker runs file jobs (from the settings)."""

    max_inflated_bytes: int | None = None
    max_rows: int | None = None
    max_columns: int | None = None
    spreadsheet_safe: bool = True
    retention_s: float = 3600.0
    duty: float = JOB_DUTY

    @classmethod
    def from_settings(cls, settings: Settings) -> JobOptions:
        """The options ``settings`` ask for."""
        return cls(
            max_inflated_bytes=settings.max_inflated_bytes,
            max_rows=settings.max_rows,
            max_columns=settings.max_columns,
            spreadsheet_safe=settings.csv_escape,
            retention_s=settings.job_retention_s,
            # A jobs replica serves no /classify to leave time for: full speed.
            duty=1.0 if settings.role == "jobs" else JOB_DUTY,
        )


def jobs_dir() -> Path:
    """Where job records live: beside BentoML's task store, shared by workers."""
    return bentoml_home() / "sentiment-jobs"


def prune(retention_s: float, now: float | None = None) -> int:
    """Delete job records and tasks older than ``retention_s``; how many records.

    BentoML deletes only *finished* tasks, and only when another finishes; a task
    whose worker died stays, with its upload. Records are ours to delete.
    """
    cutoff = (time.time() if now is None else now) - retention_s
    removed = 0
    for record in jobs_dir().glob("*.json"):
        try:
            if record.stat().st_mtime < cutoff:
                record.unlink()
                removed += 1
        except OSError:
            continue
    store = task_store()
    if store.exists():
        finished = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(cutoff))
        # an unfinished task may still be running: only a day past the cutoff
        abandoned = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(cutoff - 86_400))
        try:
            with closing(sqlite3.connect(store, timeout=5)) as db, db:
                db.execute("PRAGMA secure_delete = ON")  # overwrite, not just unlink
                db.execute(
                    "DELETE FROM result WHERE (completed_at IS NOT NULL AND "
                    "completed_at < ?) OR created_at < ?",
                    (finished, abandoned),
                )
        except sqlite3.Error as error:
            logger.warning("could not prune old tasks from %s: %s", store, error)
    return removed


def record_path(task_id: str) -> Path:
    """The record of one job (task IDs are hex, safe as file names)."""
    return jobs_dir() / f"{''.join(c for c in task_id if c.isalnum())}.json"


def write_record(task_id: str, **fields: Any) -> None:
    """Create or update a job's record atomically."""
    text = json.dumps(read_record(task_id) | fields)
    write_atomically(record_path(task_id), lambda tmp: tmp.write_text(text))


def read_record(task_id: str) -> dict[str, Any]:
    """A job's record, or {} when it has none."""
    try:
        record: dict[str, Any] = json.loads(record_path(task_id).read_text())
    except (OSError, ValueError):
        return {}
    return record


def process_alive(pid: int) -> bool:
    """Whether a process with this PID exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def augmented(status: dict[str, Any]) -> dict[str, Any]:
    """BentoML's task status plus the job's counts, error, or lost worker."""
    task_id = str(status.get("task_id", ""))
    record = read_record(task_id)
    fields = ("rows", "scored", "rejected", "error", "total", "done")
    extra: dict[str, Any] = {k: record[k] for k in fields if k in record}
    pid = record.get("pid")
    if status.get("status") == "in_progress" and pid and not process_alive(pid):
        extra["status"] = "failed"
        extra["error"] = (
            "the worker running this job stopped before it finished (restart or "
            "crash): nothing was saved; submit the file again"
        )
    return {**status, **extra}


class Throttle:
    """Sleep after each chunk so the job computes only ``duty`` of the time.

    A job shares its worker's CPU (and GIL) with ``/classify``: unthrottled, a job
    raised /classify's p99 from 25 ms to 1 s on that worker.
    """

    def __init__(self, duty: float) -> None:
        self.duty = duty
        self.mark = time.perf_counter()

    def begin(self) -> None:
        """Work starts now (after a wait that must not count as work)."""
        self.mark = time.perf_counter()

    def __call__(self, rows: int) -> None:
        """Called after each chunk: rest as long as the chunk's share requires."""
        busy = time.perf_counter() - self.mark
        time.sleep(busy * (1 - self.duty) / self.duty)
        self.mark = time.perf_counter()


class Progress:
    """After each chunk: record the rows done (for the status), then throttle."""

    def __init__(self, task_id: str, throttle: Throttle) -> None:
        self.task_id = task_id
        self.throttle = throttle
        self.done = 0

    def __call__(self, rows: int) -> None:
        """Called after each chunk with its row count."""
        self.done += rows
        write_record(self.task_id, done=self.done)
        self.throttle(rows)


def run_job(
    task_id: str,
    file: Path,
    text_column: str,
    predict_proba: Callable[[list[str]], Any],
    classes: list[str],
    options: JobOptions | None = None,
) -> str:
    """Score an uploaded file, record the counts (or the error); the result as CSV.

    CSV text, not a file: BentoML 1.4.40 stores a task's result by replaying the
    response into a scope without ``method``, which Starlette's ``FileResponse``
    needs, so a ``Path`` result fails (``KeyError: 'method'``) and the task stays
    ``in_progress``.

    Raises:
        ScoringError: the file is not what it claims, lacks the column, is empty,
            or passes a limit (named in the message).
    """
    options = options or JobOptions()
    ticket = SLOTS.job_started()
    try:
        prune(options.retention_s)
        return _score_file(task_id, file, text_column, predict_proba, classes, options)
    finally:
        SLOTS.job_ended(ticket)
        prune(options.retention_s)


def run_task(
    task_id: str | None,
    file: Path,
    text_column: str,
    model: Any,
    options: JobOptions,
) -> str:
    """``/classify_file``: :func:`run_job` on ``model``, any failure made an answer.

    Args:
        task_id: BentoML's ID of the task, or None when it runs in its request.
        file: the uploaded table.
        text_column: the column of review texts.
        model: the serving model (its ``predict_proba`` and ``classes``).
        options: the worker's limits and CSV escaping.

    Raises:
        BentoMLException: what :func:`job_failure` makes of the failure.
    """
    task_id = task_id or DIRECT
    try:
        return run_job(
            task_id, file, text_column, model.predict_proba, model.classes, options
        )
    except Exception as error:  # noqa: BLE001 - every failure gets a reason
        raise job_failure(task_id, error) from None


def job_failure(task_id: str, error: Exception) -> BentoMLException:
    """The error a failed job ends with: its status and result both say why.

    A bad file is the client's fault (400, recorded by the job itself). Anything
    else (a module the image lacks, a full disk) would otherwise end as BentoML's
    bare 500 with a ``failed`` status naming nothing: record the cause instead.
    """
    if isinstance(error, SentimentError) and error.status < 500:
        return InvalidArgument(str(error))
    reason = f"the job could not run: {type(error).__name__}: {error}"
    logger.error("job %s failed: %s", task_id, reason, exc_info=error)
    write_record(task_id, error=reason, pid=None)
    return InternalServerError(reason)


def _score_file(
    task_id: str,
    file: Path,
    text_column: str,
    predict_proba: Callable[[list[str]], Any],
    classes: list[str],
    options: JobOptions,
) -> str:
    from sentiment.errors import ScoringError
    from sentiment.jobs.scoring import score_table
    from sentiment.jobs.tables import ReadLimits, read_table, spreadsheet_safe

    write_record(task_id, pid=os.getpid())
    limits = ReadLimits(
        options.max_inflated_bytes, options.max_rows, options.max_columns
    )
    try:
        frame = read_table(file, file.name, text_column, limits)
    except ScoringError as error:
        write_record(task_id, error=str(error), pid=None)
        raise
    write_record(task_id, total=len(frame), done=0)
    scored, counts = score_table(
        frame,
        text_column,
        predict_proba,
        classes,
        Progress(task_id, Throttle(options.duty)),
        JOB_CHUNK_ROWS,
    )
    if options.spreadsheet_safe:
        scored = spreadsheet_safe(scored)
    result = scored.to_csv(index=False)
    write_record(task_id, pid=None, **asdict(counts))
    return result

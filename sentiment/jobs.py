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
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment.files import write_atomically
from sentiment.middleware import error_response, rewrite_response

STATUS_PATH = "/classify_file/status"
JOB_DUTY = 0.5  # a job computes at most half the time: /classify keeps the rest
JOB_CHUNK_ROWS = 1024  # so /classify waits at most one chunk (~20 ms) for the model
UPLOAD_PATHS = frozenset({"/classify_file", "/classify_file/submit"})


def jobs_dir() -> Path:
    """Where job records live: beside BentoML's task store, shared by workers."""
    home = Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"))
    return home / "sentiment-jobs"


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
) -> str:
    """Score an uploaded file, record the counts (or the error); the result as CSV.

    CSV text, not a file: BentoML 1.4.40 stores a task's result by replaying the
    response into a scope without ``method``, which Starlette's ``FileResponse``
    needs, so a ``Path`` result fails (``KeyError: 'method'``) and the task stays
    ``in_progress``.

    Raises:
        ScoringError: the file is not what it claims, lacks the column, or is empty.
    """
    from sentiment.scoring import ScoringError, read_table, score_table

    write_record(task_id, pid=os.getpid())
    try:
        frame = read_table(file, file.name, text_column)
    except ScoringError as error:
        write_record(task_id, error=str(error), pid=None)
        raise
    write_record(task_id, total=len(frame), done=0)
    scored, counts = score_table(
        frame,
        text_column,
        predict_proba,
        classes,
        Progress(task_id, Throttle(JOB_DUTY)),
        JOB_CHUNK_ROWS,
    )
    result = scored.to_csv(index=False)
    write_record(task_id, pid=None, **asdict(counts))
    return result


class JobStatus:
    """Adds job records to ``GET /classify_file/status``; caps upload sizes."""

    def __init__(self, app: ASGIApp, max_file_bytes: int) -> None:
        self.app = app
        self.max_file_bytes = max_file_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, except the two paths this middleware cares about."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] == "POST" and scope["path"] in UPLOAD_PATHS:
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_file_bytes:
                refusal = error_response(
                    413,
                    "file_too_large",
                    f"the file must be at most {self.max_file_bytes} bytes "
                    "(SENTIMENT_MAX_FILE_BYTES)",
                    {"Connection": "close"},
                )
                return await refusal(scope, receive, send)
        if scope["method"] != "GET" or scope["path"] != STATUS_PATH:
            return await self.app(scope, receive, send)
        await self.app(scope, receive, rewrite_response(send, ok, with_record))


def ok(status: int) -> bool:
    """Only successful status answers are augmented."""
    return status == 200


def with_record(start: Message, body: bytes) -> tuple[Message, bytes]:
    """The status body with the job's record merged in."""
    return start, json.dumps(augmented(json.loads(body))).encode()

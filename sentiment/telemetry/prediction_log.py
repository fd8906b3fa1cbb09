"""The prediction log: one JSON line per classified review, written off the hot path.

``/classify`` only hands the raw request and response bodies to a queue
(:meth:`PredictionLog.record`, no parsing, no I/O). A background thread takes
whatever has queued, parses it, counts each review's known features, and appends
all the lines with one ``write``. Files rotate by size. A full disk or an
unwritable path is logged once and counted in
``sentiment_prediction_log_errors_total``; requests never see it.

Each worker process writes its own file (``predictions.jsonl`` becomes
``predictions.w1.jsonl``, ``predictions.w2.jsonl``...), so processes never share
a file or race on rotation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiment.config import Settings
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import LOG_DROPPED, LOG_ERRORS

logger = logging.getLogger(SERVICE_LOGGER)
KnownFeatures = Callable[[list[str]], list[int]]
Entry = tuple[
    float, str, bytes, bytes, str
]  # time, request ID, request, response, model
WORKER_LOGS: list[PredictionLog] = []  # this worker's log, once its model is loaded


@dataclass(frozen=True)
class LogOptions:
    """Where and how to write the prediction log."""

    path: Path
    model_tag: str
    log_text: bool = False
    salt: str = ""
    max_bytes: int = 100 << 20
    backups: int = 5
    queue_size: int = 10_000
    queue_bytes: int = 64 << 20  # request + response bodies waiting to be written


def worker_path(path: Path, worker: int | None) -> Path:
    """The file one worker writes: ``dir/name.w<N>.jsonl`` (unchanged without N)."""
    if worker is None:
        return path
    return path.with_name(f"{path.stem}.w{worker}{path.suffix or '.jsonl'}")


def read_records(paths: list[Path]) -> Iterator[dict[str, Any]]:
    """Every JSON line of prediction log files, in order.

    A line cut by a crash is skipped. Prediction lines and shadow lines
    (``"kind": "shadow"``) both come; :func:`is_shadow` tells them apart.
    """
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    yield record


def is_shadow(record: dict[str, Any]) -> bool:
    """Whether a log line is the shadow model's, not a served prediction."""
    return record.get("kind") == "shadow"


def record_classified(
    request_id: str, request: bytes, response: bytes, model: str
) -> None:
    """Hand an answered /classify request to this worker's prediction log."""
    for log in WORKER_LOGS:
        log.record(request_id, request, response, model)


def for_worker(
    settings: Settings, model_tag: str, worker: int | None, known: KnownFeatures | None
) -> PredictionLog | None:
    """This worker's prediction log; None when SENTIMENT_PREDICTION_LOG is unset."""
    if settings.prediction_log is None:
        return None
    options = LogOptions(
        path=worker_path(settings.prediction_log, worker),
        model_tag=model_tag,
        log_text=settings.log_text,
        salt=settings.log_salt.get_secret_value(),
        max_bytes=settings.prediction_log_max_bytes,
        queue_bytes=settings.prediction_log_queue_bytes,
    )
    return PredictionLog(options, known)


def text_hash(text: str, salt: str) -> str:
    """A salted, shortened sha256 of a review: repeats match, text stays private."""
    return hashlib.sha256(f"{salt}\x00{text}".encode()).hexdigest()[:24]


class PredictionLog:
    """Queue of classified requests and the thread that writes them as JSON lines.

    Args:
        options: where and how to write.
        known_features: counts each text's features the model knows (or None).
    """

    def __init__(
        self, options: LogOptions, known_features: KnownFeatures | None = None
    ) -> None:
        self.options = options
        self.known_features = known_features
        self.salt = options.salt or os.urandom(16).hex()
        self.queue: queue.Queue[Entry | list[str] | None] = queue.Queue(
            options.queue_size
        )
        self.failing = False
        self.queued_bytes = 0
        self.bytes_lock = threading.Lock()
        self.thread = threading.Thread(
            target=self.run, name="prediction-log", daemon=True
        )
        self.thread.start()

    def record(
        self, request_id: str, request: bytes, response: bytes, model: str = ""
    ) -> None:
        """Queue one answered ``/classify`` request; never blocks, never raises.

        ``model`` is the tag of the model that answered (default: the one the
        log was opened with).
        """
        size = len(request) + len(response)
        with self.bytes_lock:
            if self.queued_bytes + size > self.options.queue_bytes:
                LOG_DROPPED.inc()
                return
            self.queued_bytes += size
        entry = (time.time(), request_id, request, response, model)
        try:
            self.queue.put_nowait(entry)
        except queue.Full:
            self.release(size)
            LOG_DROPPED.inc()

    def release(self, size: int) -> None:
        """``size`` bytes left the queue."""
        with self.bytes_lock:
            self.queued_bytes -= size

    def record_lines(self, lines: list[str]) -> None:
        """Queue ready-made JSON lines (the shadow's); never blocks, never raises."""
        try:
            self.queue.put_nowait(lines)
        except queue.Full:
            LOG_DROPPED.inc()

    def flush(self) -> None:
        """Wait until everything recorded so far is written (or failed)."""
        self.queue.join()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        self.queue.put(None)
        self.thread.join(timeout)

    def run(self) -> None:
        """The writer thread: take everything queued, write it in one go.

        It never dies: whatever goes wrong with one batch is logged, counted in
        the errors metric, and the next batch is written as usual.
        """
        while True:
            items = [self.queue.get()]
            while len(items) < 1000:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in items
            entries = [item for item in items if isinstance(item, tuple)]
            ready = [line for item in items if isinstance(item, list) for line in item]
            self.release(sum(len(entry[2]) + len(entry[3]) for entry in entries))
            try:
                if entries or ready:
                    self.write(self.lines(entries) + ready)
            except Exception:
                LOG_ERRORS.inc(max(1, len(entries) + len(ready)))
                logger.exception("prediction log: a batch could not be written")
            finally:
                for _ in items:
                    self.queue.task_done()
            if stop:
                return

    def lines(self, entries: list[Entry]) -> list[str]:
        """One JSON line per review of every answered request.

        Lines are filled into a template rather than built as dicts and dumped:
        the writer shares the CPU with serving, and this halves its cost.
        """
        texts: list[str] = []
        heads: list[str] = []
        tails: list[str] = []
        default_model = json.dumps(self.options.model_tag)
        for stamp, request_id, request, response, tag in entries:
            model = json.dumps(tag) if tag else default_model
            try:
                batch = json.loads(request)["texts"]
                predictions = json.loads(response)
            except (ValueError, KeyError, TypeError):
                continue
            head = f'{{"time": {stamp:.3f}, "request_id": {json.dumps(request_id)}'
            for text, prediction in zip(batch, predictions, strict=False):
                text = str(text).strip()
                texts.append(text)
                heads.append(
                    f'{head}, "model": {model}, "label": "{prediction["label"]}", '
                    f'"score": {prediction["score"]!r}, "length": {len(text)}, '
                )
                tails.append(self.text_field(text))
        known: list[int] | None = None
        if self.known_features is not None and texts:
            known = self.known_features(texts)
        return [
            f"{head}{tail}"
            + (f', "known_features": {known[i]}}}\n' if known else "}\n")
            for i, (head, tail) in enumerate(zip(heads, tails, strict=True))
        ]

    def text_field(self, text: str) -> str:
        """The review itself (``SENTIMENT_LOG_TEXT=1``) or its salted hash."""
        if self.options.log_text:
            return f'"text": {json.dumps(text, ensure_ascii=False)}'
        return f'"text_sha256": "{text_hash(text, self.salt)}"'

    def write(self, lines: list[str]) -> None:
        """Append the lines, rotating first if the file would pass ``max_bytes``."""
        data = "".join(lines).encode()
        path = self.options.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            size = path.stat().st_size if path.exists() else 0
            if size and size + len(data) > self.options.max_bytes:
                self.rotate()
            with path.open("ab") as handle:
                handle.write(data)
        except OSError as error:
            LOG_ERRORS.inc(len(lines))
            if not self.failing:
                logger.error(
                    "prediction log %s is not writable (%s): predictions are not "
                    "being logged; counted in sentiment_prediction_log_errors_total",
                    path,
                    error,
                )
            self.failing = True
            return
        if self.failing:
            logger.info("prediction log %s is writable again", path)
        self.failing = False

    def rotate(self) -> None:
        """``log`` -> ``log.1`` -> ``log.2`` ... keeping ``backups`` old files."""
        path = self.options.path
        for index in range(self.options.backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{index}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{index + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))

"""sentiment.telemetry.prediction_log: lines, privacy, rotation, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentiment.telemetry.metrics import LOG_DROPPED, LOG_ERRORS
from sentiment.telemetry.prediction_log import (
    LogOptions,
    PredictionLog,
    text_hash,
    worker_path,
)

REQUEST = json.dumps({"texts": ["  a fine film ", "a dull mess"]}).encode()
RESPONSE = json.dumps(
    [
        {"label": "positive", "score": 0.9, "probabilities": {}},
        {"label": "negative", "score": 0.8, "probabilities": {}},
    ]
).encode()


def written(path: Path, **options: bool) -> list[dict]:
    options = LogOptions(path=path, model_tag="sentiment:v1", salt="s", **options)
    log = PredictionLog(options, lambda texts: [len(t.split()) for t in texts])
    log.record("req-1", REQUEST, RESPONSE)
    log.close()
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_one_line_per_review_with_the_request_and_model(tmp_path: Path) -> None:
    first, second = written(tmp_path / "p.jsonl")
    assert first["request_id"] == second["request_id"] == "req-1"
    assert first["model"] == "sentiment:v1"
    assert (first["label"], first["score"], first["length"]) == ("positive", 0.9, 11)
    assert (second["label"], second["known_features"]) == ("negative", 3)
    assert first["time"] > 1.7e9


def test_text_is_hashed_unless_asked_for(tmp_path: Path) -> None:
    (hashed, _) = written(tmp_path / "a.jsonl")
    (plain, _) = written(tmp_path / "b.jsonl", log_text=True)
    assert "text" not in hashed and hashed["text_sha256"] == text_hash(
        "a fine film", "s"
    )
    assert text_hash("a fine film", "s") != text_hash("a fine film", "other salt")
    assert plain["text"] == "a fine film"


def test_files_rotate_by_size(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    log = PredictionLog(LogOptions(path, "m:1", max_bytes=600, backups=2))
    for i in range(10):
        log.record(f"r{i}", REQUEST, RESPONSE)
        log.flush()
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files[0] == "p.jsonl" and set(files) <= {"p.jsonl", "p.jsonl.1", "p.jsonl.2"}
    assert all(p.stat().st_size <= 600 for p in tmp_path.iterdir())


def test_unwritable_path_is_logged_once_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    before = LOG_ERRORS._value.get()
    log = PredictionLog(LogOptions(blocker / "p.jsonl", "m:1"))
    for _ in range(3):
        log.record("r", REQUEST, RESPONSE)
    log.close()
    assert LOG_ERRORS._value.get() - before >= 2
    assert sum("not writable" in r.getMessage() for r in caplog.records) == 1


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path: Path) -> None:
    log = PredictionLog(LogOptions(tmp_path / "p.jsonl", "m:1", queue_size=1))
    before = LOG_DROPPED._value.get()
    for _ in range(2000):
        log.record("r", REQUEST, RESPONSE)  # returns at once even when full
    log.close()
    assert LOG_DROPPED._value.get() > before


def test_each_worker_writes_its_own_file() -> None:
    assert worker_path(Path("/l/p.jsonl"), 2) == Path("/l/p.w2.jsonl")
    assert worker_path(Path("/l/p.jsonl"), None) == Path("/l/p.jsonl")


def test_readers_tell_served_lines_from_shadow_lines(tmp_path: Path) -> None:
    from ops.drift import read_log
    from ops.gate import read_logged_texts
    from ops.shadow_report import shadow_records

    served = {"time": 1.0, "label": "positive", "score": 0.9, "text": "good"}
    shadowed = {**served, "kind": "shadow", "shadow_label": "negative"}
    path = tmp_path / "p.jsonl"
    path.write_text(
        json.dumps(served) + "\n" + json.dumps(shadowed) + "\n" + '{"cut by a cr'
    )
    assert read_log([path], since=0.0) == [served]
    assert read_logged_texts([path]) == ["good"]
    assert shadow_records([path]) == [shadowed]


def test_the_queue_is_bounded_in_bytes_not_only_entries(tmp_path: Path) -> None:
    big = json.dumps({"texts": ["a fine film " * 1000]}).encode()
    log = PredictionLog(LogOptions(tmp_path / "p.jsonl", "m:1", queue_bytes=len(big)))
    log.queue.put(None)  # the writer stops: nothing leaves the queue
    log.thread.join()
    before = LOG_DROPPED._value.get()
    log.record("r", big, b"")
    log.record("r", big, b"")
    assert LOG_DROPPED._value.get() == before + 1
    assert log.queued_bytes == len(big)


def test_the_writer_survives_any_exception_and_counts_it(tmp_path: Path) -> None:
    log = PredictionLog(LogOptions(tmp_path / "p.jsonl", "m:1"))
    errors = LOG_ERRORS._value.get()
    original = log.lines
    log.lines = lambda entries: 1 / 0  # type: ignore[assignment,method-assign,return-value]
    log.record("r", REQUEST, RESPONSE)
    log.flush()
    assert LOG_ERRORS._value.get() > errors and log.thread.is_alive()
    log.lines = original  # type: ignore[method-assign]
    log.record("r", REQUEST, RESPONSE)
    log.close()
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 2
    assert log.queued_bytes == 0

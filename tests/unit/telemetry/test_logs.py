"""Unit tests for sentiment.telemetry.logs: JSON log lines with the request ID."""

from __future__ import annotations

import json
import logging

from sentiment.telemetry.logs import JsonFormatter
from sentiment.telemetry.request_ids import REQUEST_ID


def record(message: str, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(
        "bentoml.service.sentiment", logging.INFO, "", 0, message, (), None
    )
    made.__dict__.update(extra)
    return made


def test_json_line_has_time_level_message_and_request_id() -> None:
    token = REQUEST_ID.set("req-7")
    try:
        line = json.loads(JsonFormatter().format(record("model loaded")))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "model loaded" and line["level"] == "INFO"
    assert line["request_id"] == "req-7"
    assert line["time"].endswith("+00:00")


def test_explicit_request_id_wins_and_none_outside_requests() -> None:
    assert (
        json.loads(JsonFormatter().format(record("x", request_id="r1")))["request_id"]
        == "r1"
    )
    assert json.loads(JsonFormatter().format(record("y")))["request_id"] is None

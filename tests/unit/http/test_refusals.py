"""sentiment.http.refusals: refusals rendered once, sent with the request's ID."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sentiment.config import Settings
from sentiment.http.overload import OVERLOADED, REFUSAL_REASONS
from sentiment.http.refusals import EdgeRefusals, Refusal, bad_timeout


def sent(refusal: Refusal, request_id: bytes = b"req-1") -> tuple[int, dict, bytes]:
    """Send ``refusal`` to a recording ``send``: status, headers, raw body."""
    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    asyncio.run(refusal.send(send, request_id))
    start, body = messages
    return start["status"], dict(start["headers"]), body["body"]


def test_a_refusal_names_its_rule_and_carries_the_request_id() -> None:
    status, headers, raw = sent(Refusal(418, "teapot", "short and stout"))
    body = json.loads(raw)
    assert status == 418
    assert body["detail"][0]["type"] == "teapot" and body["error"] == "short and stout"
    assert body["request_id"] == "req-1" and headers[b"x-request-id"] == b"req-1"
    assert headers[b"content-length"] == b"%d" % len(raw)
    assert headers[b"content-type"] == b"application/json"


@pytest.mark.parametrize("reason", REFUSAL_REASONS)
def test_every_reason_of_the_queue_has_its_answer(reason: str) -> None:
    refusal = EdgeRefusals.of(Settings()).by_reason[reason]
    status, headers, raw = sent(refusal)
    rule = json.loads(raw)["detail"][0]["type"]
    if reason in ("over_share", "rate_limited"):
        assert (status, rule) == (429, reason)
    elif reason == "deadline":
        assert (status, rule) == (504, "deadline_exceeded")
    else:
        assert reason in (*OVERLOADED, "disconnected")
        assert (status, rule) == (503, "overloaded")
    if status != 504:  # waiting helps the refused, not one whose deadline passed
        assert headers[b"retry-after"] == b"1"
    else:
        assert b"retry-after" not in headers


def test_the_answers_name_the_settings_they_come_from() -> None:
    refused = EdgeRefusals.of(Settings(max_queue_wait_ms=37, model_name="reviews"))
    _, _, overloaded = sent(refused.by_reason["queue_full"])
    assert "max_queue_wait_ms=37" in json.loads(overloaded)["error"]
    _, _, model = sent(refused.no_such_model)
    assert "serves reviews" in json.loads(model)["error"]
    status, headers, _ = sent(refused.unauthorized)
    assert status == 401 and headers[b"www-authenticate"] == b"Bearer"


def test_a_bad_timeout_names_the_header_and_the_value_cut_short() -> None:
    status, _, raw = sent(bad_timeout(b"9" * 100))
    message = json.loads(raw)["error"]
    assert status == 400 and "X-Request-Timeout-Ms" in message
    assert "from 1 to 999999999" in message and "9" * 41 not in message

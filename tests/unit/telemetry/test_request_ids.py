"""sentiment.telemetry.request_ids: an ID on every response, refusals too."""

from __future__ import annotations

import logging

import pytest

from sentiment.telemetry.request_ids import RequestIds, fresh_id, request_id_from
from tests.asgi import FakeApp, request


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        (b"abc-123_x.y", True),
        (b"A" * 128, True),
        (b"A" * 129, False),
        (b"has space", False),
        (b"semi;colon", False),
        (b"", False),
    ],
)
def test_client_ids_are_kept_only_when_valid(sent: bytes, kept: bool) -> None:
    chosen = request_id_from([(b"x-request-id", sent)])
    assert (chosen == sent.decode()) is kept
    if not kept:
        assert len(chosen) == 32 and chosen.isalnum()


def test_fresh_ids_differ() -> None:
    assert request_id_from([]) != request_id_from([])


def test_fresh_ids_are_32_hex_characters_that_never_repeat() -> None:
    ids = [fresh_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_access_log_names_the_request(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="bentoml.service.sentiment.access"):
        request(
            RequestIds(FakeApp(), access_log=True), headers={b"x-request-id": b"r9"}
        )
    (record,) = caplog.records
    assert record.request_id == "r9"  # type: ignore[attr-defined]
    assert "POST /classify 200" in record.getMessage()

"""sentiment.http.headers: the headers the edge reads, the key kept apart."""

from __future__ import annotations

import pytest

from sentiment.http.headers import RequestHeaders, timeout_seconds


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(b"1", 0.001), (b"250", 0.25), (b"999999999", 999999.999)],
)
def test_a_timeout_is_whole_milliseconds(value: bytes, seconds: float) -> None:
    assert timeout_seconds(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [b"", b"0", b"000", b"-5", b"1.5", b"1e3", b" 5", b"1000000000", b"\xd9\xa3"],
)
def test_anything_else_is_no_timeout(value: bytes) -> None:
    assert timeout_seconds(value) is None


def test_the_key_is_read_and_not_forwarded() -> None:
    scope = {
        "headers": [
            (b"authorization", b"Bearer k"),
            (b"x-request-timeout-ms", b"20"),
            (b"accept", b"*/*"),
        ]
    }
    headers = RequestHeaders.of(scope)
    assert headers.authorization == b"Bearer k" and headers.timeout_ms == b"20"
    assert (b"authorization", b"Bearer k") not in headers.forwarded
    assert (b"accept", b"*/*") in headers.forwarded

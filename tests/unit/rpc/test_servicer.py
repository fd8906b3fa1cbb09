"""gRPC's statuses for REST's refusals, and the retry hint."""

from __future__ import annotations

import grpc
import pytest

from sentiment.http.refusals import retry_after
from sentiment.rpc.servicer import retry_hint, status_of


@pytest.mark.parametrize(
    ("http", "code"),
    [
        (400, grpc.StatusCode.INVALID_ARGUMENT),
        (401, grpc.StatusCode.UNAUTHENTICATED),
        (404, grpc.StatusCode.NOT_FOUND),
        (421, grpc.StatusCode.FAILED_PRECONDITION),
        (429, grpc.StatusCode.RESOURCE_EXHAUSTED),
        (503, grpc.StatusCode.UNAVAILABLE),
        (504, grpc.StatusCode.DEADLINE_EXCEEDED),
        (500, grpc.StatusCode.INTERNAL),
    ],
)
def test_each_refusal_has_its_status(http: int, code: grpc.StatusCode) -> None:
    assert status_of(http) == code


def test_retry_after_becomes_trailing_metadata_and_pushback() -> None:
    assert retry_hint([retry_after(1)]) == (
        ("retry-after", "1"),
        ("grpc-retry-pushback-ms", "1000"),
    )
    assert retry_hint([(b"www-authenticate", b"Bearer")]) == ()

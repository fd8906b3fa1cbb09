"""Unit tests for sentiment.http.connections: one connection in N is closed."""

from __future__ import annotations

from sentiment.http.connections import ConnectionRecycler, Recycling
from tests.asgi import FakeApp, request


def test_recycler_closes_every_nth_connection() -> None:
    recycler = ConnectionRecycler(FakeApp(), Recycling(3))
    closing = [
        i for i in range(7) if request(recycler).headers.get(b"connection") == b"close"
    ]
    assert closing == [2, 5]


def test_recycler_off_with_zero() -> None:
    recycler = ConnectionRecycler(FakeApp(), Recycling(0))
    assert all(b"connection" not in request(recycler).headers for _ in range(5))

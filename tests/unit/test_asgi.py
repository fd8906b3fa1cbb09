"""sentiment.asgi: one capped body reader for the edge and uploads."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive

from sentiment.asgi import Body, read_body


def chunks(*parts: bytes, disconnect: bool = False) -> Receive:
    messages: list[Message] = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    if disconnect:
        messages[-1]["more_body"] = True
        messages.append({"type": "http.disconnect"})

    async def receive() -> Message:
        return messages.pop(0)

    return receive


def read(receive: Receive, limit: int, drain_to: int = 0) -> Body:
    return asyncio.run(read_body(receive, limit, drain_to))


def test_a_body_under_the_cap_is_read_whole() -> None:
    assert read(chunks(b"ab", b"cd"), 4) == Body(b"abcd")


def test_past_the_cap_reading_stops_at_once_without_a_drain() -> None:
    receive = chunks(b"abc", b"def", b"ghi")
    assert read(receive, 4) == Body(b"", over=True, stopped=True)
    assert asyncio.run(receive())["body"] == b"ghi", "the rest is left unread"


def test_a_body_over_the_cap_within_the_drain_is_read_then_refused() -> None:
    assert read(chunks(b"abc", b"def"), 4, drain_to=100) == Body(b"", over=True)


def test_a_client_that_leaves_is_said_to_have_left() -> None:
    assert read(chunks(b"ab", disconnect=True), 4) == Body(b"ab", disconnected=True)

"""sentiment.asgi: one capped body reader and one drain for the edge and uploads."""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive

from sentiment.asgi import Body, Reading, drain, read_body


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


def endless(chunk: bytes, reads: list[int], pause_s: float = 0.0) -> Receive:
    """A client that never stops sending (each read counted in ``reads``)."""

    async def receive() -> Message:
        reads.append(len(chunk))
        if pause_s:
            await asyncio.sleep(pause_s)
        return {"type": "http.request", "body": chunk, "more_body": True}

    return receive


def read(receive: Receive, limit: int) -> Body:
    return asyncio.run(read_body(receive, limit))


def test_a_body_under_the_cap_is_read_whole() -> None:
    assert read(chunks(b"ab", b"cd"), 4) == Body(b"abcd")


def test_past_the_cap_reading_stops_at_once() -> None:
    receive = chunks(b"abc", b"def", b"ghi")
    assert read(receive, 4) == Body(b"", over=True, stopped=True)
    assert asyncio.run(receive())["body"] == b"ghi", "the rest is left to drain"
    assert read(chunks(b"abc", b"def"), 4) == Body(b"", over=True), "at its end"


def test_a_client_that_leaves_is_said_to_have_left() -> None:
    assert read(chunks(b"ab", disconnect=True), 4) == Body(b"ab", disconnected=True)


def test_a_drain_reads_the_rest_to_its_end() -> None:
    receive = chunks(b"abc", b"def", b"")
    assert asyncio.run(drain(receive)) is True
    assert asyncio.run(drain(chunks(b""))) is True, "a body-less request"


def test_a_drain_stops_past_its_bytes() -> None:
    reads: list[int] = []
    assert asyncio.run(drain(endless(b"x" * 10, reads), max_bytes=95)) is False
    assert sum(reads) <= 95 + 10


def test_a_drain_stops_after_its_time() -> None:
    reads: list[int] = []
    ended = asyncio.run(drain(endless(b"x", reads, pause_s=0.01), max_s=0.05))
    assert ended is False
    assert reads, "it read until its time was up"


def test_a_client_that_leaves_mid_drain_ends_it() -> None:
    assert asyncio.run(drain(chunks(b"abc", b"def", disconnect=True))) is False


def test_a_declared_length_past_the_bound_is_not_read() -> None:
    reads: list[int] = []
    assert asyncio.run(drain(endless(b"x", reads), b"101", max_bytes=100)) is False
    assert reads == []
    assert asyncio.run(drain(chunks(b"x" * 100), b"100", max_bytes=100)) is True


def test_a_client_waiting_for_100_continue_is_not_asked_for_its_body() -> None:
    reads: list[int] = []
    assert asyncio.run(drain(endless(b"x", reads), expects_continue=True)) is False
    assert reads == []


def test_reading_notes_the_end_of_the_body() -> None:
    reading = Reading(chunks(b"ab", b"cd"))
    asyncio.run(reading())
    assert not reading.ended
    asyncio.run(reading())
    assert reading.ended

"""The worker's gRPC server: its port, its address, every call measured."""

from __future__ import annotations

import asyncio

import grpc
import prometheus_client
import pytest

from sentiment.rpc.server import Measured, bind_address, grpc_port

METHOD = "/test.Echo/Say"


def test_the_port_is_the_setting_or_the_http_port_plus_one() -> None:
    assert grpc_port(None, 3000) == 3001
    assert grpc_port(0, 3000) == 0
    assert grpc_port(9000, 3000) == 9000


def test_an_ipv6_host_is_bracketed() -> None:
    assert bind_address("::", 3001) == "[::]:3001"
    assert bind_address("0.0.0.0", 3001) == "0.0.0.0:3001"  # noqa: S104


def calls(code: str) -> float:
    value = prometheus_client.REGISTRY.get_sample_value(
        "sentiment_grpc_requests_total", {"method": METHOD, "code": code}
    )
    return value or 0.0


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    if request == b"bad":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad")
    if request == b"slow":
        await asyncio.sleep(5)
    return request


async def scenario() -> list[grpc.StatusCode]:
    server = grpc.aio.server(interceptors=[Measured()])
    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    codes = []
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        say = channel.unary_unary(METHOD)
        for body, timeout in ((b"hi", 5.0), (b"bad", 5.0), (b"slow", 0.2)):
            try:
                await say(body, timeout=timeout)
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as error:
                codes.append(error.code())
    await asyncio.sleep(0.1)  # the server's side of the late call ends
    await server.stop(None)
    return codes


def test_every_call_is_counted_by_method_and_code() -> None:
    before = {
        code: calls(code) for code in ("OK", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED")
    }
    codes = asyncio.run(scenario())
    assert codes == [
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    ]
    for code in before:
        assert calls(code) == pytest.approx(before[code] + 1), code

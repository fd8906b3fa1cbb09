"""Each worker's ``grpc.aio`` server, on one port the workers share.

Started from the service's start-up hook, on the worker's own event loop (the
one uvicorn runs), so a gRPC call meets the same admission queue and the same
batching dispatcher as an HTTP request; stopped by the shutdown hook. The port
is ``SENTIMENT_GRPC_PORT``, by default the HTTP port + 1 (as Triton's 8000/8001
and MLServer's 8080/8081), on the HTTP socket's host; every worker binds it with
``SO_REUSEPORT`` and the kernel spreads new connections over them. ``0`` turns it
off. A message over ``SENTIMENT_MAX_BODY_BYTES``, REST's body cap, is refused by
gRPC itself (``RESOURCE_EXHAUSTED``) before it is parsed. The standard health
service (``grpc.health.v1``) answers Kubernetes' ``grpc`` probes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from sentiment.config import Settings
from sentiment.errors import StartupError
from sentiment.http.worker import Worker
from sentiment.patches import http_address
from sentiment.rpc.proto import open_inference_grpc_pb2_grpc as pb_grpc
from sentiment.rpc.servicer import InferenceServicer
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import GRPC_CALLS, GRPC_LATENCY

SERVICE_NAME = "inference.GRPCInferenceService"
logger = logging.getLogger(SERVICE_LOGGER)


def grpc_port(setting: int | None, http_port: int) -> int:
    """The gRPC port: the setting, else the HTTP port + 1 (0: no server)."""
    return http_port + 1 if setting is None else setting


def bind_address(host: str, port: int) -> str:
    """``host:port`` as gRPC reads it (an IPv6 host in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Measured(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Counts and times every unary call by method and status code.

    Only registered methods reach a handler, so the ``method`` label is bounded;
    a call cancelled past its deadline counts as ``DEADLINE_EXCEEDED``.
    """

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        """The method's handler, its behaviour measured."""
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        behaviour, method = handler.unary_unary, details.method

        async def measured(request: Any, context: Any) -> Any:
            started, code = time.monotonic(), "OK"
            try:
                return await behaviour(request, context)
            except asyncio.CancelledError:
                remaining = context.time_remaining()  # None: no deadline
                late = remaining is not None and remaining <= 0
                code = "DEADLINE_EXCEEDED" if late else "CANCELLED"
                raise
            except Exception:
                code = getattr(context.code(), "name", "UNKNOWN")
                raise
            finally:
                GRPC_CALLS.labels(method=method, code=code).inc()
                GRPC_LATENCY.labels(method=method).observe(time.monotonic() - started)

        return grpc.unary_unary_rpc_method_handler(
            measured,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class GrpcServer:
    """One worker's gRPC server: :meth:`start` in the start-up hook, :meth:`stop`.

    Args:
        worker: the worker's admission and handlers (``sentiment.http.worker``).
        settings: the port, the message cap, the timeout.
        live_tag: the tag of the model serving now.
    """

    def __init__(
        self, worker: Worker, settings: Settings, live_tag: Callable[[], str]
    ) -> None:
        self.worker = worker
        self.settings = settings
        self.live_tag = live_tag
        self.server: grpc.aio.Server | None = None
        self.health = health.aio.HealthServicer()

    async def start(self, address: tuple[str, int] | None = None) -> int:
        """Serve on the shared port; the port, or 0 when off (or not in a worker).

        Args:
            address: the HTTP socket's host and port (default: the worker's).

        Raises:
            StartupError: the port cannot be bound.
        """
        address = address or http_address()
        port = grpc_port(self.settings.grpc_port, address[1] if address else 0)
        if address is None or port == 0:
            return 0
        server = grpc.aio.server(
            interceptors=[Measured()],
            options=[
                ("grpc.so_reuseport", 1),
                ("grpc.max_receive_message_length", self.settings.max_body_bytes),
            ],
        )
        servicer = InferenceServicer(self.worker, self.settings, self.live_tag)
        add_servicer: Any = pb_grpc.add_GRPCInferenceServiceServicer_to_server
        add_servicer(servicer, server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        target = bind_address(address[0], port)
        try:
            bound = server.add_insecure_port(target)
        except RuntimeError as error:
            raise StartupError(f"cannot serve gRPC on {target}: {error}") from None
        await server.start()
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self.server = server
        logger.info("gRPC (Open Inference Protocol) on %s", target)
        return int(bound)

    async def stop(self) -> None:
        """Answer NOT_SERVING, let calls in progress finish, then stop."""
        if self.server is None:
            return
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace=float(self.settings.timeout_s))
        self.server = None

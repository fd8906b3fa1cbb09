"""``inference.GRPCInferenceService``: the Open Inference Protocol over gRPC.

A thin transport, as REST's V2 routes are: health and metadata from the same
facts as :mod:`sentiment.http.oip`, and ``ModelInfer`` through the worker's own
admission (:meth:`sentiment.http.admission.Admission.serve`: the key, the role,
tenants' shares, overload, the call's deadline) into the V2 data plane
(:meth:`sentiment.http.handlers.V2Infer.infer`) and BentoML's batching. A
refusal is a status whose details are REST's V2 error text
(:func:`status_of` maps the HTTP status); the retry hint REST sends as
``Retry-After`` is trailing metadata, with gRPC's own ``grpc-retry-pushback-ms``.
A call its client cancels has its task cancelled: it leaves the admission queue
and BentoML's batch queue (:meth:`IdleDispatcher.withdraw`) unscored. An answered
call goes to the prediction log as REST's do
(:meth:`sentiment.http.edge.ModelEdge.log_prediction`), under its ``x-request-id``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import grpc

from sentiment.config import Settings
from sentiment.errors import TensorError
from sentiment.http.answers import Problem, v2_message
from sentiment.http.handlers import V2Infer
from sentiment.http.oip import unknown_model
from sentiment.http.refusals import RETRY_AFTER, Refusal
from sentiment.http.routes import V2_INFER, model_route
from sentiment.http.v2_codec import PROTOCOL_VERSION
from sentiment.http.v2_codec import model_metadata as rest_metadata
from sentiment.http.worker import Worker
from sentiment.rpc import tensors
from sentiment.rpc.proto import open_inference_grpc_pb2 as pb
from sentiment.rpc.proto import open_inference_grpc_pb2_grpc as pb_grpc
from sentiment.telemetry.logs import SERVICE_LOGGER
from sentiment.telemetry.metrics import REJECTIONS
from sentiment.telemetry.request_ids import HEADER, client_request_id, fresh_id

logger = logging.getLogger(SERVICE_LOGGER)
Code = grpc.StatusCode
# A refusal's HTTP status, as a gRPC status code (anything else: INTERNAL).
STATUS: dict[int, Any] = {
    400: Code.INVALID_ARGUMENT,
    401: Code.UNAUTHENTICATED,
    404: Code.NOT_FOUND,
    409: Code.FAILED_PRECONDITION,
    413: Code.RESOURCE_EXHAUSTED,
    421: Code.FAILED_PRECONDITION,
    429: Code.RESOURCE_EXHAUSTED,
    503: Code.UNAVAILABLE,
    504: Code.DEADLINE_EXCEEDED,
}
INFER_ROUTE = model_route(V2_INFER)
DUPLICATE_KEY = "send the authorization metadata at most once"
REQUEST_ID_KEY = HEADER.decode()  # x-request-id, as REST reads it
Metadata = tuple[tuple[str, str], ...]


def status_of(http_status: int) -> Any:
    """The gRPC status code of a refusal's HTTP status."""
    return STATUS.get(http_status, Code.INTERNAL)


def retry_hint(headers: Sequence[tuple[bytes, bytes]]) -> Metadata:
    """REST's ``Retry-After`` as trailing metadata (and gRPC's pushback, in ms)."""
    for name, value in headers:
        if name == RETRY_AFTER:
            seconds = value.decode()
            pushback = ("grpc-retry-pushback-ms", f"{seconds}000")
            return (("retry-after", seconds), pushback)
    return ()


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """The six RPCs of ``inference.GRPCInferenceService`` (module docstring).

    Args:
        worker: this worker's admission and handlers (filled in before start).
        settings: the model's name, the timeout.
        live_tag: the tag of the model serving now (empty before it loads).
        clock: seconds, monotonic: the admission queue's clock.
    """

    def __init__(
        self,
        worker: Worker,
        settings: Settings,
        live_tag: Callable[[], str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model_name = settings.model_name
        self.timeout_s = settings.timeout_s
        self.live_tag = live_tag
        self.clock = clock
        self.timed_out = f"Not able to process the request in {self.timeout_s} seconds"
        handler, admission = worker.handlers.get(V2_INFER), worker.admission
        if not isinstance(handler, V2Infer) or admission is None or not worker.edge:
            raise TypeError("gRPC needs the worker's admission, edge and V2 handler")
        self.v2, self.admission, self.edge = handler, admission, worker.edge

    async def ServerLive(self, request: Any, context: Any) -> pb.ServerLiveResponse:  # noqa: N802
        """Live while the worker answers."""
        return pb.ServerLiveResponse(live=True)

    async def ServerReady(self, request: Any, context: Any) -> pb.ServerReadyResponse:  # noqa: N802
        """Ready once a model serves."""
        return pb.ServerReadyResponse(ready=bool(self.live_tag()))

    async def ModelReady(  # noqa: N802
        self, request: pb.ModelReadyRequest, context: Any
    ) -> pb.ModelReadyResponse:
        """Whether this model (at this version) serves; NOT_FOUND for another."""
        await self.this_model(request.name, request.version, context)
        return pb.ModelReadyResponse(ready=bool(self.live_tag()))

    async def ServerMetadata(  # noqa: N802
        self, request: Any, context: Any
    ) -> pb.ServerMetadataResponse:
        """The server's name and the protocol's version, as ``GET /v2``."""
        return pb.ServerMetadataResponse(
            name="sentiment_classifier", version=PROTOCOL_VERSION, extensions=[]
        )

    async def ModelMetadata(  # noqa: N802
        self, request: pb.ModelMetadataRequest, context: Any
    ) -> pb.ModelMetadataResponse:
        """The tensors the model takes and gives, as ``GET /v2/models/{name}``."""
        version = await self.this_model(request.name, request.version, context)
        return tensors.model_metadata(rest_metadata(self.model_name, version))

    async def ModelInfer(  # noqa: N802
        self, request: pb.ModelInferRequest, context: Any
    ) -> pb.ModelInferResponse:
        """Reviews in, labels and probabilities out, through admission and batching."""
        admission = self.admission
        arrived = self.clock()
        tenant, request_id = await self.caller(context)
        role = admission.role.refusal(INFER_ROUTE)
        if role is not None:
            await refuse(context, role)
        await self.this_model(request.model_name, request.model_version, context)
        try:
            read = tensors.infer_request(request)
        except TensorError as error:
            await abort(context, Problem(error.status, error.rule, str(error)))
        remaining = context.time_remaining()
        deadline = None
        if remaining is not None:
            deadline = arrived + min(remaining, admission.max_timeout_s)
        answered: list[dict[str, Any]] = []

        async def call() -> None:
            async with asyncio.timeout(self.timeout_s):
                payload, logged = await self.v2.infer(read)
            answered.append(payload)
            self.edge.log_prediction(request_id, logged, self.live_tag())

        try:
            reason = await admission.serve(
                tenant, deadline, context.cancelled, arrived, call
            )
        except Problem as problem:
            await abort(context, problem)
        except TimeoutError:
            await abort(context, Problem(504, "timeout", self.timed_out))
        except Exception:
            logger.exception("gRPC ModelInfer failed")
            message = "an unexpected error occurred, see the server log"
            await abort(context, Problem(500, "internal_error", message))
        if reason is not None:
            await refuse(context, admission.refused.by_reason[reason])
        return tensors.infer_response(answered[0])

    async def caller(self, context: Any) -> tuple[int, str]:
        """The caller's tenant and request ID, from one pass over its metadata.

        The tenant from the ``authorization`` metadata, else refused; the ID from
        ``x-request-id`` when valid (REST's rule), else a fresh one.
        """
        admission = self.admission
        keys: list[bytes] = []
        request_id = b""
        for name, value in context.invocation_metadata() or ():
            if name == "authorization":
                keys.append(value.encode() if isinstance(value, str) else value)
            elif name == REQUEST_ID_KEY and isinstance(value, str):
                request_id = client_request_id(value.encode())
        if len(keys) > 1:
            await abort(context, Problem(400, "duplicate_header", DUPLICATE_KEY))
        tenant = admission.tenants.find(keys[0] if keys else b"")
        if tenant is None:
            await refuse(context, admission.refused.unauthorized)
        return tenant, request_id.decode() if request_id else fresh_id()

    async def this_model(self, name: str, version: str, context: Any) -> str:
        """The live version if ``name`` at ``version`` is this model, else NOT_FOUND."""
        live = self.live_tag().partition(":")[2]
        if name != self.model_name or (version and version != live):
            message = unknown_model(name, version, self.model_name, live)
            await abort(context, Problem(404, "no_such_route", message))
        return live


async def abort(context: Any, problem: Problem) -> NoReturn:
    """End the call with ``problem`` as a status, counted as REST counts it."""
    for rule in problem.rules:
        REJECTIONS.labels(rule=rule).inc()
    await context.abort(
        status_of(problem.status), v2_message(problem), retry_hint(problem.headers)
    )
    raise AssertionError("context.abort returned")  # it raises


async def refuse(context: Any, refusal: Refusal) -> NoReturn:
    """End the call with one of the edge's prebuilt refusals, as a status."""
    refusal.counter.inc()
    await context.abort(
        status_of(refusal.status), refusal.message, retry_hint(refusal.extra)
    )
    raise AssertionError("context.abort returned")  # it raises

"""The Open Inference Protocol (KServe V2, REST) in front of ``/classify``.

MLServer, KServe and Triton clients speak it. :class:`OpenInference` answers
the health and metadata endpoints itself and turns ``POST
/v2/models/{name}/infer`` into a ``/classify`` request on the way in and the
answer into V2 output tensors on the way out, so an inference request goes
through the same admission, guard, review rules, adaptive batching, prediction
log and metrics as ``/classify``.

Input: one ``BYTES`` tensor of review texts, shape ``[N]`` or ``[N, 1]``, as
JSON strings. Outputs: ``label`` (BYTES ``[N]``), ``score`` (FP32 ``[N]``, the
probability of the label) and ``probabilities`` (FP32 ``[N, 2]``, columns
``negative``, ``positive``); all by default, or those named in ``outputs``.
Errors are ``{"error": "..."}``: 400 for a bad tensor or a review that breaks a
rule (named with its index), 404 for another model, 400 for the binary tensor
extension, which is not implemented.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, StrictInt, StrictStr, ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment.asgi import read_body, replay, rewrite_response
from sentiment.model.artifact import LABELS

OUTPUTS = ("label", "score", "probabilities")
INPUT_NAME = "text"
MODEL_PATH = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?(/ready|/infer)?")
JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
PROTOCOL_VERSION = "2"
# What a /classify answer keeps when it becomes a V2 answer.
KEPT_HEADERS = (b"x-model-version", b"x-request-id", b"retry-after", b"connection")
BINARY_REFUSAL = (
    "binary tensor data is not supported: send the texts as JSON "
    "(tritonclient: binary_data=False)"
)


class TensorError(ValueError):
    """A V2 request this service cannot answer; the message says why (400)."""


MAX_DEPTH = 16  # a V2 request nests at most 4 deep ([N, 1] data in a list)


class RequestOutput(BaseModel):
    """One output tensor a V2 request asks for."""

    name: StrictStr
    parameters: dict[str, Any] | None = None


class RequestInput(BaseModel):
    """One input tensor of a V2 request."""

    name: StrictStr = INPUT_NAME
    shape: list[StrictInt]
    datatype: StrictStr
    parameters: dict[str, Any] | None = None
    data: list[Any] | None = None  # absent with the binary extension


class InferenceRequest(BaseModel):
    """A V2 inference request, as the protocol types it."""

    id: StrictStr | StrictInt | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


@dataclass(frozen=True)
class InferRequest:
    """What a V2 inference request asks for."""

    texts: list[str]
    outputs: tuple[str, ...]
    id: str | None


def nesting_depth(body: bytes) -> int:
    """How deep a JSON document's arrays and objects nest, without parsing it.

    Brackets inside strings do not count: strings are removed first (one regex
    pass), then the depth is the running sum's maximum, in numpy.
    """
    import numpy as np

    bare = JSON_STRING.sub(b'""', body).translate(None, NOT_BRACKETS)
    if not bare:
        return 0
    steps = np.frombuffer(bare, dtype=np.uint8)
    depth = np.cumsum(np.where((steps == 0x5B) | (steps == 0x7B), 1, -1))
    return int(depth.max())


def parse_infer(body: bytes) -> InferRequest:
    """Read a V2 inference request with one BYTES tensor of texts.

    Raises:
        TensorError: naming what is wrong with the request, field by field.
    """
    if nesting_depth(body) > MAX_DEPTH:
        raise TensorError(f"request body nests deeper than {MAX_DEPTH} levels")
    try:
        request = InferenceRequest.model_validate_json(body)
    except ValidationError as error:
        raise TensorError(first_problem(error)) from None
    if len(request.inputs) != 1:
        raise TensorError(
            "'inputs' must hold exactly one tensor (the review texts, "
            f"name {INPUT_NAME!r}), got {len(request.inputs)}"
        )
    texts = tensor_texts(request.inputs[0])
    names = [output.name for output in request.outputs or []]
    return InferRequest(
        texts,
        requested_outputs(names),
        None if request.id is None else str(request.id),
    )


def first_problem(error: ValidationError) -> str:
    """A pydantic error as one line naming the field, e.g. ``inputs[0].shape``."""
    problem = error.errors(include_url=False)[0]
    if problem["type"] == "json_invalid":
        return f"request body is not JSON: {problem['msg']}"
    if not problem["loc"]:
        return "request body must be a JSON object with 'inputs'"
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
    ).lstrip(".")
    return f"{where}: {problem['msg']}"


def tensor_texts(tensor: RequestInput) -> list[str]:
    """The texts of a BYTES tensor of shape [N] or [N, 1] (JSON strings).

    Raises:
        TensorError: wrong datatype, shape or data, or binary data.
    """
    if "binary_data_size" in (tensor.parameters or {}):
        raise TensorError(BINARY_REFUSAL)
    if tensor.datatype != "BYTES":
        raise TensorError(
            f"inputs[0].datatype must be BYTES (review texts), got {tensor.datatype!r}"
        )
    shape = tensor.shape
    if not (
        len(shape) in (1, 2)
        and all(n >= 0 for n in shape)
        and (len(shape) == 1 or shape[1] == 1)
    ):
        raise TensorError(f"inputs[0].shape must be [N] or [N, 1], got {shape!r}")
    if tensor.data is None:
        raise TensorError("inputs[0].data must be a list of strings")
    flat = [
        item[0] if isinstance(item, list) and len(item) == 1 else item
        for item in tensor.data
    ]
    if len(flat) != shape[0]:
        raise TensorError(
            f"inputs[0].data holds {len(flat)} items, its shape says {shape[0]}"
        )
    for index, item in enumerate(flat):
        if not isinstance(item, str):
            raise TensorError(
                f"inputs[0].data[{index}] must be a string (a review), got "
                f"{type(item).__name__}"
            )
    return flat


def requested_outputs(names: list[str]) -> tuple[str, ...]:
    """The output tensors asked for (all when none are named).

    Raises:
        TensorError: an output this model does not have.
    """
    if not names:
        return OUTPUTS
    unknown = [name for name in names if name not in OUTPUTS]
    if unknown:
        raise TensorError(
            f"unknown output {unknown[0]!r}: this model has {list(OUTPUTS)}"
        )
    return tuple(dict.fromkeys(names))


def infer_response(
    predictions: list[dict[str, Any]],
    request: InferRequest,
    model_name: str,
    model_version: str,
) -> dict[str, Any]:
    """V2 output tensors from /classify's predictions."""
    n = len(predictions)
    tensors = {
        "label": {
            "datatype": "BYTES",
            "shape": [n],
            "data": [p["label"] for p in predictions],
        },
        "score": {
            "datatype": "FP32",
            "shape": [n],
            "data": [p["score"] for p in predictions],
        },
        "probabilities": {
            "datatype": "FP32",
            "shape": [n, len(LABELS)],
            "data": [
                p["probabilities"][label] for p in predictions for label in LABELS
            ],
        },
    }
    answer: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request.id is not None:
        answer["id"] = request.id
    answer["outputs"] = [{"name": name, **tensors[name]} for name in request.outputs]
    return answer


def classify_error(body: bytes) -> str:
    """A /classify refusal as one V2 error message naming each rule and item."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body.decode(errors="replace")[:500]
    problems = []
    for item in payload.get("detail") or []:
        if not isinstance(item, dict):
            continue
        loc = [part for part in item.get("loc", []) if part not in ("body", "texts")]
        where = (
            f" at inputs[0].data[{loc[0]}]" if loc and isinstance(loc[0], int) else ""
        )
        problems.append(f"{item.get('type', 'invalid')}{where}: {item.get('msg', '')}")
    return "; ".join(problems) or str(payload.get("error", "request refused"))


def model_metadata(model_name: str, model_version: str) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the tensors this model takes and gives."""
    return {
        "name": model_name,
        "versions": [model_version],
        "platform": "scikit-learn",
        "inputs": [{"name": INPUT_NAME, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "score", "datatype": "FP32", "shape": [-1]},
            {
                "name": "probabilities",
                "datatype": "FP32",
                "shape": [-1, len(LABELS)],
                "parameters": {"labels": list(LABELS)},
            },
        ],
    }


class OpenInference:
    """ASGI middleware: the V2 REST endpoints, inference through ``/classify``.

    Args:
        app: the rest of the stack (the guard, then BentoML's ``/classify``).
        model_name: the name clients use (``SENTIMENT_MODEL_NAME``).
        live_tag: the tag of the model serving now (empty before it loads).
        max_body_bytes: larger request bodies are refused with 413.
    """

    def __init__(
        self,
        app: ASGIApp,
        model_name: str,
        live_tag: Callable[[], str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.model_name = model_name
        self.live_tag = live_tag
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer /v2 paths; pass everything else through."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == "/v2" or path.startswith("/v2/")):
            return await self.app(scope, receive, send)
        method = scope["method"]
        if path == "/v2/health/live" and method == "GET":
            return await answer(scope, receive, send, {"live": True})
        if path == "/v2/health/ready" and method == "GET":
            ready = bool(self.live_tag())
            return await answer(
                scope, receive, send, {"ready": ready}, 200 if ready else 503
            )
        if path == "/v2" and method == "GET":
            body = {
                "name": "sentiment_classifier",
                "version": PROTOCOL_VERSION,
                "extensions": [],
            }
            return await answer(scope, receive, send, body)
        match = MODEL_PATH.fullmatch(path)
        if match is None:
            return await answer(
                scope, receive, send, {"error": f"no such endpoint: {path}"}, 404
            )
        name, version, action = match.groups()
        tag = self.live_tag()
        live_version = tag.partition(":")[2]
        if name != self.model_name or (version and version != live_version):
            wanted = f"{name}" + (f" version {version}" if version else "")
            message = (
                f"model {wanted} not found: this server serves "
                f"{self.model_name} version {live_version}"
            )
            return await answer(scope, receive, send, {"error": message}, 404)
        if action == "/infer" and method == "POST":
            return await self.infer(scope, receive, send, live_version)
        if action == "/ready" and method == "GET":
            return await answer(
                scope, receive, send, {"name": name, "ready": bool(tag)}
            )
        if action is None and method == "GET":
            return await answer(
                scope, receive, send, model_metadata(name, live_version)
            )
        return await answer(
            scope, receive, send, {"error": f"{method} {path} is not allowed"}, 405
        )

    async def infer(
        self, scope: Scope, receive: Receive, send: Send, version: str
    ) -> None:
        """Translate to /classify, pass down the stack, translate the answer."""
        headers = dict(scope.get("headers", []))
        if b"inference-header-content-length" in headers:
            return await answer(scope, receive, send, {"error": BINARY_REFUSAL}, 400)
        read = await read_body(receive, self.max_body_bytes)
        body = read.data
        if read.over:
            message = f"request body must be at most {self.max_body_bytes} bytes"
            return await answer(scope, receive, send, {"error": message}, 413)
        try:
            request = parse_infer(body)
        except TensorError as error:
            return await answer(scope, receive, send, {"error": str(error)}, 400)
        classify_body = json.dumps({"texts": request.texts}).encode()
        classify_scope = {
            **scope,
            "path": "/classify",
            "raw_path": b"/classify",
            "headers": [
                (k, v)
                for k, v in scope.get("headers", [])
                if k not in (b"content-length", b"content-type")
            ]
            + [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(classify_body)).encode()),
            ],
        }

        def translate(start: Message, body: bytes) -> tuple[Message, bytes]:
            if start["status"] == 200:
                payload = infer_response(
                    json.loads(body), request, self.model_name, version
                )
            else:
                payload = {"error": classify_error(body)}
            kept = [
                (k, v) for k, v in start.get("headers", []) if k.lower() in KEPT_HEADERS
            ]
            headers = [*kept, (b"content-type", b"application/json")]
            return {**start, "headers": headers}, json_bytes(payload)

        await self.app(
            classify_scope,
            replay(classify_body, receive),
            rewrite_response(send, lambda _status: True, translate),
        )


def json_bytes(payload: dict[str, Any]) -> bytes:
    """JSON as Starlette's JSONResponse renders it (compact, UTF-8)."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")


async def answer(
    scope: Scope,
    receive: Receive,
    send: Send,
    payload: dict[str, Any],
    status: int = 200,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a JSON answer."""
    response = JSONResponse(payload, status_code=status)
    response.raw_headers.extend(headers or [])
    await response(scope, receive, send)

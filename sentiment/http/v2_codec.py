"""The Open Inference Protocol's (KServe V2, REST) data: parsed and built.

Pydantic models of an infer request, parsed first so a wrong type is a 400 naming
the field; the texts of its one ``BYTES`` tensor; the response tensors and the
model metadata. No ASGI here: :class:`sentiment.http.handlers.V2Infer` answers with it.

Input: one ``BYTES`` tensor of review texts, shape ``[N]`` or ``[N, 1]``, as
JSON strings. Outputs: ``label`` (BYTES ``[N]``), ``score`` (FP32 ``[N]``, the
probability of the label) and ``probabilities`` (FP32 ``[N, K]``, one column
per label of the model, in its order: ``negative``, ``positive`` for the
sentiment model); all by default, or those named in ``outputs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, StrictInt, StrictStr, ValidationError

from sentiment.errors import TensorError
from sentiment.lifecycle.live import active_labels

OUTPUTS = ("label", "score", "probabilities")
INPUT_NAME = "text"
ESCAPE = re.compile(rb"\\.", re.DOTALL)  # an escape pair: drop it first
JSON_STRING = re.compile(rb'"[^"]*"')  # then strings have no quote inside
NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
PROTOCOL_VERSION = "2"
BINARY_REFUSAL = (
    "binary tensor data is not supported: send the texts as JSON "
    "(tritonclient: binary_data=False)"
)


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
    timeout_us: int | None = None  # parameters.timeout: the request's own deadline


def nesting_depth(body: bytes) -> int:
    """How deep a JSON document's arrays and objects nest, without parsing it.

    Brackets inside strings do not count: escape pairs, then strings are removed
    (two linear regex passes; a single pattern with alternation rescanned the
    body from every unterminated quote: 17 s for 80 KB), then the depth is the
    running sum's maximum, in numpy.
    """
    import numpy as np

    bare = JSON_STRING.sub(b"", ESCAPE.sub(b"", body)).translate(None, NOT_BRACKETS)
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
    check_one_tensor(len(request.inputs))
    texts = tensor_texts(request.inputs[0])
    names = [output.name for output in request.outputs or []]
    return InferRequest(
        texts,
        requested_outputs(names),
        None if request.id is None else str(request.id),
        timeout_of(request.parameters),
    )


def timeout_of(parameters: dict[str, Any] | None) -> int | None:
    """The request's ``timeout`` parameter: microseconds, as Triton's clients send.

    Raises:
        TensorError: it is there but not a whole number above 0.
    """
    value = (parameters or {}).get("timeout")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise TensorError(
            "parameters.timeout must be a whole number of microseconds above 0, "
            f"got {str(value)[:40]!r}"
        )
    return value


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
    check_tensor(tensor.datatype, tensor.shape)
    if tensor.data is None:
        raise TensorError("inputs[0].data must be a list of strings")
    flat = [
        item[0] if isinstance(item, list) and len(item) == 1 else item
        for item in tensor.data
    ]
    check_count("inputs[0].data", len(flat), tensor.shape)
    for index, item in enumerate(flat):
        if not isinstance(item, str):
            raise TensorError(
                f"inputs[0].data[{index}] must be a string (a review), got "
                f"{type(item).__name__}"
            )
    return flat


def check_one_tensor(count: int) -> None:
    """Refuse a request without exactly one input tensor (REST and gRPC).

    Raises:
        TensorError: naming how many it had.
    """
    if count != 1:
        raise TensorError(
            "'inputs' must hold exactly one tensor (the review texts, "
            f"name {INPUT_NAME!r}), got {count}"
        )


def check_tensor(datatype: str, shape: list[int]) -> None:
    """Refuse a tensor that is not BYTES of shape [N] or [N, 1] (REST and gRPC).

    Raises:
        TensorError: naming the field.
    """
    if datatype != "BYTES":
        raise TensorError(
            f"inputs[0].datatype must be BYTES (review texts), got {datatype!r}"
        )
    if not (
        len(shape) in (1, 2)
        and all(n >= 0 for n in shape)
        and (len(shape) == 1 or shape[1] == 1)
    ):
        raise TensorError(f"inputs[0].shape must be [N] or [N, 1], got {shape!r}")


def check_count(field: str, count: int, shape: list[int]) -> None:
    """Refuse data whose item count is not the shape's N.

    Raises:
        TensorError: naming ``field`` and both counts.
    """
    if count != shape[0]:
        raise TensorError(f"{field} holds {count} items, its shape says {shape[0]}")


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
    labels = list(predictions[0]["probabilities"]) if n else active_labels()
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
            "shape": [n, len(labels)],
            "data": [
                p["probabilities"][label] for p in predictions for label in labels
            ],
        },
    }
    answer: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request.id is not None:
        answer["id"] = request.id
    answer["outputs"] = [{"name": name, **tensors[name]} for name in request.outputs]
    return answer


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
                "shape": [-1, len(labels := active_labels())],
                "parameters": {"labels": labels},
            },
        ],
    }

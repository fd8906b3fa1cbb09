"""The Open Inference Protocol's gRPC messages, to and from the V2 data plane.

:func:`infer_request` reads a ``ModelInferRequest`` into the
:class:`~sentiment.http.v2_codec.InferRequest` REST reads from JSON, with the
same checks and the same words (:mod:`sentiment.http.v2_codec`);
:func:`infer_response` turns REST's payload tensors into a
``ModelInferResponse``. The texts come as ``contents.bytes_contents`` or as
``raw_input_contents`` (each element a 4-byte little-endian length and its bytes,
as tritonclient sends them), UTF-8.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from sentiment.errors import TensorError
from sentiment.http.v2_codec import (
    InferRequest,
    check_count,
    check_one_tensor,
    check_tensor,
    requested_outputs,
    timeout_of,
)
from sentiment.rpc.proto import open_inference_grpc_pb2 as pb

LENGTH = struct.Struct("<I")  # a raw BYTES element's length prefix
CONTENTS = "inputs[0].contents.bytes_contents"
RAW = "raw_input_contents[0]"


def infer_request(message: pb.ModelInferRequest) -> InferRequest:
    """The texts, outputs, id and timeout of a gRPC infer request.

    Raises:
        TensorError: naming the field that is wrong, as REST's does.
    """
    check_one_tensor(len(message.inputs))
    tensor = message.inputs[0]
    shape = list(tensor.shape)
    check_tensor(tensor.datatype, shape)
    if message.raw_input_contents:
        if len(message.raw_input_contents) != 1:
            raise TensorError(
                "raw_input_contents must hold one entry, the review texts, got "
                f"{len(message.raw_input_contents)}"
            )
        if tensor.HasField("contents"):
            raise TensorError(
                "inputs[0].contents must be empty when raw_input_contents holds "
                "the texts: send them once"
            )
        field, items = RAW, raw_items(message.raw_input_contents[0])
    else:
        for descriptor, _ in tensor.contents.ListFields():
            if descriptor.name != "bytes_contents":
                raise TensorError(
                    f"inputs[0].contents.{descriptor.name} cannot hold review "
                    "texts: send them as bytes_contents (BYTES)"
                )
        field, items = CONTENTS, list(tensor.contents.bytes_contents)
    check_count(field, len(items), shape)
    return InferRequest(
        [text(item, field, index) for index, item in enumerate(items)],
        requested_outputs([output.name for output in message.outputs]),
        message.id or None,
        timeout_of(parameters(message.parameters)),
    )


def raw_items(raw: bytes) -> list[bytes]:
    """The elements of a raw BYTES tensor: each a 4-byte length, then its bytes.

    Raises:
        TensorError: an element runs past the end of the data.
    """
    items: list[bytes] = []
    offset, end = 0, len(raw)
    while offset < end:
        if offset + LENGTH.size > end:
            raise TensorError(f"{RAW} ends inside the length of item {len(items)}")
        (size,) = LENGTH.unpack_from(raw, offset)
        offset += LENGTH.size
        if offset + size > end:
            raise TensorError(
                f"{RAW}: item {len(items)} says {size} bytes, {end - offset} are left"
            )
        items.append(raw[offset : offset + size])
        offset += size
    return items


def text(item: bytes, field: str, index: int) -> str:
    """One review from its UTF-8 bytes.

    Raises:
        TensorError: naming the item that is not UTF-8.
    """
    try:
        return item.decode("utf-8")
    except UnicodeDecodeError:
        raise TensorError(f"{field}[{index}] must be UTF-8 text (a review)") from None


def parameters(entries: Any) -> dict[str, Any]:
    """A parameters map as REST's JSON object: each entry's one value."""
    found: dict[str, Any] = {}
    for key, parameter in entries.items():
        choice = parameter.WhichOneof("parameter_choice")
        found[key] = None if choice is None else getattr(parameter, choice)
    return found


def infer_response(payload: dict[str, Any]) -> pb.ModelInferResponse:
    """REST's payload (:func:`sentiment.http.v2_codec.infer_response`) as gRPC's.

    The data go in ``raw_output_contents``, one entry per output, as Triton
    answers: tritonclient reads FP32 from nowhere else (not ``fp32_contents``),
    and KServe's client and stubs read both.
    """
    response = pb.ModelInferResponse(
        model_name=payload["model_name"],
        model_version=payload["model_version"],
        id=payload.get("id", ""),
    )
    for output in payload["outputs"]:
        response.outputs.add(
            name=output["name"], datatype=output["datatype"], shape=output["shape"]
        )
        response.raw_output_contents.append(raw(output["datatype"], output["data"]))
    return response


def raw(datatype: str, data: list[Any]) -> bytes:
    """A tensor's raw bytes: BYTES length-prefixed, FP32 little-endian."""
    if datatype == "BYTES":
        encoded = [str(value).encode() for value in data]
        return b"".join(LENGTH.pack(len(item)) + item for item in encoded)
    return np.asarray(data, dtype="<f4").tobytes()


def model_metadata(metadata: dict[str, Any]) -> pb.ModelMetadataResponse:
    """REST's model metadata (:func:`sentiment.http.v2_codec.model_metadata`) as gRPC's.

    gRPC's tensor metadata has no parameters: the probabilities' column labels
    go in the model's ``properties`` (``labels``, comma-separated).
    """
    labels = ",".join(
        ",".join(tensor.get("parameters", {}).get("labels", []))
        for tensor in metadata["outputs"]
    ).strip(",")

    def tensors(key: str) -> list[pb.ModelMetadataResponse.TensorMetadata]:
        return [
            pb.ModelMetadataResponse.TensorMetadata(
                name=t["name"], datatype=t["datatype"], shape=t["shape"]
            )
            for t in metadata[key]
        ]

    return pb.ModelMetadataResponse(
        name=metadata["name"],
        versions=metadata["versions"],
        platform=metadata["platform"],
        inputs=tensors("inputs"),
        outputs=tensors("outputs"),
        properties={"labels": labels},
    )

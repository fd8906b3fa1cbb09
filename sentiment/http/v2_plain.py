"""A plain V2 infer request read with orjson, as :func:`parse_infer` reads it.

Plain: one ``BYTES`` tensor of strings, its shape right, parameters flat (so it
nests 4 deep at most), no key the protocol does not name: what the clients send
(tritonclient, KServe's, MLServer's codecs). Read here in about a tenth of the
time pydantic takes; anything else goes to
:func:`sentiment.http.v2_codec.parse_infer`, which names what is wrong.
``tests/unit/http/test_v2_codec.py`` holds the two readings equal.
"""

from __future__ import annotations

from typing import Any

import orjson

from sentiment.http.v2_codec import (
    INPUT_NAME,
    InferRequest,
    requested_outputs,
    timeout_of,
)

PLAIN_REQUEST_KEYS = frozenset({"id", "inputs", "outputs", "parameters"})
PLAIN_TENSOR_KEYS = frozenset({"name", "shape", "datatype", "data", "parameters"})
SCALARS = (str, int, float, bool, type(None))


def plain_infer(body: bytes) -> InferRequest | None:
    """A plain infer request (module docstring), or None: not plain.

    Raises:
        TensorError: an unknown output or a bad timeout, as :func:`parse_infer`.
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(payload) is not dict or not payload.keys() <= PLAIN_REQUEST_KEYS:
        return None
    inputs, request_id = payload.get("inputs"), payload.get("id")
    if type(inputs) is not list or len(inputs) != 1 or type(inputs[0]) is not dict:
        return None
    if request_id is not None and type(request_id) not in (str, int):
        return None
    tensor = inputs[0]
    texts = plain_texts(tensor)
    parameters = payload.get("parameters")
    if texts is None or not flat(parameters):
        return None
    names = plain_output_names(payload.get("outputs"))
    if names is None:
        return None
    return InferRequest(
        texts,
        requested_outputs(names),
        None if request_id is None else str(request_id),
        timeout_of(parameters),
    )


def plain_texts(tensor: dict[str, Any]) -> list[str] | None:
    """The strings of a plain ``BYTES`` tensor of shape [N] or [N, 1], or None."""
    if not tensor.keys() <= PLAIN_TENSOR_KEYS or tensor.get("datatype") != "BYTES":
        return None
    if type(tensor.get("name", INPUT_NAME)) is not str:
        return None
    parameters = tensor.get("parameters")
    if not flat(parameters) or "binary_data_size" in (parameters or {}):
        return None
    shape, data = tensor.get("shape"), tensor.get("data")
    if type(shape) is not list or type(data) is not list:
        return None
    if not all(type(n) is int for n in shape):  # True == 1, but not to pydantic
        return None
    if shape == [len(data)]:
        texts = data
    elif shape == [len(data), 1]:
        texts = [
            item[0] if type(item) is list and len(item) == 1 else item for item in data
        ]
    else:
        return None
    if not all(type(text) is str for text in texts):
        return None
    return texts


def plain_output_names(outputs: Any) -> list[str] | None:
    """The names of the outputs a plain request asks for, or None."""
    if outputs is None:
        return []
    if type(outputs) is not list:
        return None
    names = []
    for output in outputs:
        if type(output) is not dict or not output.keys() <= {"name", "parameters"}:
            return None
        if type(output.get("name")) is not str or not flat(output.get("parameters")):
            return None
        names.append(output["name"])
    return names


def flat(parameters: Any) -> bool:
    """Whether ``parameters`` is absent or an object of scalars only."""
    if parameters is None:
        return True
    return type(parameters) is dict and all(
        isinstance(value, SCALARS) for value in parameters.values()
    )

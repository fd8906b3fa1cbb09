"""gRPC infer messages read as REST's V2 requests, and answers built from REST's."""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.errors import TensorError
from sentiment.http.v2_codec import OUTPUTS, InferRequest, infer_response, parse_infer
from sentiment.rpc.proto import open_inference_grpc_pb2 as pb
from sentiment.rpc.tensors import (
    infer_request,
    model_metadata,
    raw_items,
)
from sentiment.rpc.tensors import infer_response as grpc_response

TEXTS = ["a wonderful film", "dull, dull, dull"]


def message(texts: list[str], shape: list[int] | None = None) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="sentiment", id="r1")
    tensor = request.inputs.add(
        name="text", datatype="BYTES", shape=shape or [len(texts)]
    )
    tensor.contents.bytes_contents.extend(t.encode() for t in texts)
    return request


def raw(texts: list[str]) -> bytes:
    return b"".join(len(t.encode()).to_bytes(4, "little") + t.encode() for t in texts)


def test_contents_and_raw_contents_read_as_rests_json() -> None:
    rest = parse_infer(
        b'{"id": "r1", "inputs": [{"name": "text", "datatype": "BYTES", '
        b'"shape": [2], "data": ["a wonderful film", "dull, dull, dull"]}]}'
    )
    assert infer_request(message(TEXTS)) == rest
    as_raw = pb.ModelInferRequest(id="r1", raw_input_contents=[raw(TEXTS)])
    as_raw.inputs.add(name="text", datatype="BYTES", shape=[2, 1])
    assert infer_request(as_raw) == rest


def test_parameters_and_outputs_are_read_as_rests() -> None:
    request = message(TEXTS)
    request.parameters["timeout"].int64_param = 50_000
    request.outputs.add(name="label")
    read = infer_request(request)
    assert read.timeout_us == 50_000 and read.outputs == ("label",)
    request.parameters["timeout"].bool_param = True
    with pytest.raises(TensorError, match="parameters.timeout"):
        infer_request(request)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m.inputs[0].__setattr__("datatype", "FP32"), "inputs[0].datatype"),
        (lambda m: m.inputs[0].shape.append(2), "inputs[0].shape"),
        (lambda m: m.inputs[0].shape.__setitem__(0, 3), "bytes_contents holds 2"),
        (lambda m: m.inputs.add(name="x", datatype="BYTES"), "'inputs'"),
        (lambda m: m.inputs[0].contents.fp32_contents.append(1.0), "fp32_contents"),
        (lambda m: m.raw_input_contents.append(b"x"), "inputs[0].contents must be"),
        (lambda m: m.inputs[0].contents.bytes_contents.__setitem__(0, b"\xff"), "[0]"),
        (lambda m: m.outputs.add(name="nope"), "unknown output 'nope'"),
    ],
)
def test_a_bad_message_names_the_field(change: object, field: str) -> None:
    request = message(TEXTS)
    change(request)  # type: ignore[operator]
    with pytest.raises(TensorError) as refused:
        infer_request(request)
    assert field in str(refused.value)


@pytest.mark.parametrize("data", [b"\x01\x00", b"\x09\x00\x00\x00abc"])
def test_raw_data_that_runs_past_its_end_is_refused(data: bytes) -> None:
    with pytest.raises(TensorError, match="raw_input_contents"):
        raw_items(data)


def test_the_answer_holds_rests_tensors_as_raw_output_contents() -> None:
    predictions = [
        {
            "label": "positive",
            "score": 0.9,
            "probabilities": {"negative": 0.1, "positive": 0.9},
        },
        {
            "label": "negative",
            "score": 0.8,
            "probabilities": {"negative": 0.8, "positive": 0.2},
        },
    ]
    request = InferRequest(TEXTS, OUTPUTS, "r1")
    payload = infer_response(predictions, request, "sentiment", "v1")
    answer = grpc_response(payload)
    assert (answer.model_name, answer.model_version, answer.id) == (
        "sentiment",
        "v1",
        "r1",
    )
    assert [o.name for o in answer.outputs] == list(OUTPUTS)
    assert raw_items(answer.raw_output_contents[0]) == [b"positive", b"negative"]
    scores = np.frombuffer(answer.raw_output_contents[1], dtype="<f4")
    assert scores.tolist() == pytest.approx([0.9, 0.8])
    assert list(answer.outputs[2].shape) == [2, 2]


@pytest.mark.parametrize(
    "labels", [["negative", "positive"], ["negative", "neutral", "positive"]]
)
def test_model_metadata_keeps_the_labels_in_properties(
    labels: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sentiment.http import v2_codec

    monkeypatch.setattr(v2_codec, "active_labels", lambda: labels)  # the live model's
    answer = model_metadata(v2_codec.model_metadata("sentiment", "v1"))
    assert answer.properties["labels"] == ",".join(labels)
    shapes = [list(t.shape) for t in answer.outputs]
    assert shapes == [[-1], [-1], [-1, len(labels)]]

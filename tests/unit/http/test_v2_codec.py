"""sentiment.http.v2_codec: V2 requests parsed, responses built (no server)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment import errors
from sentiment.http import v2_codec, v2_plain


def infer_body(**request: object) -> bytes:
    base: dict[str, object] = {
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}
        ]
    }
    return json.dumps({**base, **request}).encode()


def test_a_bytes_tensor_of_texts_is_read_in_either_shape() -> None:
    assert v2_codec.parse_infer(infer_body()).texts == ["a", "b"]
    column = {
        "name": "text",
        "datatype": "BYTES",
        "shape": [2, 1],
        "data": [["a"], ["b"]],
    }
    assert v2_codec.parse_infer(json.dumps({"inputs": [column]}).encode()).texts == [
        "a",
        "b",
    ]
    flat_column = {**column, "data": ["a", "b"]}
    assert v2_codec.parse_infer(
        json.dumps({"inputs": [flat_column]}).encode()
    ).texts == [
        "a",
        "b",
    ]


def test_outputs_id_and_unknown_parameters() -> None:
    request = v2_codec.parse_infer(
        infer_body(id="req-7", outputs=[{"name": "score"}], parameters={"x": 1})
    )
    assert request.outputs == ("score",) and request.id == "req-7"
    assert v2_codec.parse_infer(infer_body()).outputs == v2_codec.OUTPUTS


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "not JSON"),
        (b"[]", "JSON object"),
        (json.dumps({"inputs": []}).encode(), "exactly one tensor"),
        (
            json.dumps(
                {"inputs": [{"datatype": "FP32", "shape": [1], "data": [1.0]}]}
            ).encode(),
            "must be BYTES",
        ),
        (
            json.dumps(
                {"inputs": [{"datatype": "BYTES", "shape": [2, 2], "data": ["a"] * 4}]}
            ).encode(),
            "shape must be [N] or [N, 1]",
        ),
        (
            json.dumps(
                {"inputs": [{"datatype": "BYTES", "shape": [3], "data": ["a"]}]}
            ).encode(),
            "holds 1 items, its shape says 3",
        ),
        (
            json.dumps(
                {"inputs": [{"datatype": "BYTES", "shape": [2], "data": ["a", 5]}]}
            ).encode(),
            "data[1] must be a string",
        ),
        (
            json.dumps(
                {
                    "inputs": [
                        {
                            "datatype": "BYTES",
                            "shape": [1],
                            "parameters": {"binary_data_size": 9},
                        }
                    ]
                }
            ).encode(),
            "binary tensor data is not supported",
        ),
        (infer_body(outputs=[{"name": "logits"}]), "unknown output 'logits'"),
    ],
)
def test_bad_requests_name_the_problem(body: bytes, message: str) -> None:
    with pytest.raises(errors.TensorError, match=message.replace("[", r"\[")):
        v2_codec.parse_infer(body)


def test_predictions_become_v2_tensors() -> None:
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
    request = v2_codec.InferRequest(["a", "b"], v2_codec.OUTPUTS, "r1")
    answer = v2_codec.infer_response(predictions, request, "sentiment", "v1")
    assert answer["model_name"] == "sentiment" and answer["id"] == "r1"
    tensors = {o["name"]: o for o in answer["outputs"]}
    assert tensors["label"] == {
        "name": "label",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["positive", "negative"],
    }
    assert tensors["score"]["data"] == [0.9, 0.8]
    assert tensors["probabilities"]["shape"] == [2, 2]
    assert tensors["probabilities"]["data"] == [0.1, 0.9, 0.8, 0.2]
    only = v2_codec.infer_response(
        predictions, v2_codec.InferRequest([], ("score",), None), "s", "v"
    )
    assert [o["name"] for o in only["outputs"]] == ["score"] and "id" not in only


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [[1], [2]]}', 3),
        (b'{"a": "[[[[[[[["}', 1),
        (b'{"a": "\\"[[[["}', 1),
        (b"[" * 3000 + b"]" * 3000, 3000),
        (b"", 0),
    ],
)
def test_nesting_depth_ignores_brackets_in_strings(body: bytes, depth: int) -> None:
    assert v2_codec.nesting_depth(body) == depth


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"inputs": [], "outputs": 5}, "outputs"),
        (
            {
                "inputs": [
                    {"datatype": "BYTES", "shape": [1], "data": [], "parameters": 5}
                ]
            },
            "inputs[0].parameters",
        ),
        ({"inputs": "x"}, "inputs"),
        (
            {"inputs": [{"datatype": "BYTES", "shape": "1", "data": []}]},
            "inputs[0].shape",
        ),
        (
            {"inputs": [{"datatype": "BYTES", "shape": [True], "data": []}]},
            "inputs[0].shape[0]",
        ),
        (
            {"inputs": [{"datatype": "BYTES", "shape": [1], "data": 5}]},
            "inputs[0].data",
        ),
        ({"inputs": [], "id": [1]}, "id"),
    ],
)
def test_wrong_types_are_errors_naming_the_field(
    request_body: object, field: str
) -> None:
    with pytest.raises(errors.TensorError) as raised:
        v2_codec.parse_infer(json.dumps(request_body).encode())
    assert str(raised.value).startswith(field), str(raised.value)


def test_deep_nesting_is_refused_before_parsing() -> None:
    body = b'{"inputs": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    with pytest.raises(errors.TensorError, match="nests deeper than 16"):
        v2_codec.parse_infer(body)


def test_the_timeout_parameter_is_the_requests_deadline_in_microseconds() -> None:
    assert (
        v2_codec.parse_infer(infer_body(parameters={"timeout": 200_000})).timeout_us
        == 200_000
    )
    assert v2_codec.parse_infer(infer_body()).timeout_us is None


@pytest.mark.parametrize("value", [0, -1, "200", 1.5, True])
def test_a_bad_timeout_parameter_is_400_naming_it(value: object) -> None:
    with pytest.raises(errors.TensorError, match=r"parameters\.timeout"):
        v2_codec.parse_infer(infer_body(parameters={"timeout": value}))


SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=False),
    st.text(max_size=3),
)
ANY_JSON = st.recursive(
    SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
TEXT_ITEM = st.one_of(
    st.text(max_size=5), st.lists(st.text(max_size=5), max_size=2), SCALAR
)


@st.composite
def v2_requests(draw: st.DrawFn) -> dict[str, object]:
    """V2 requests near the plain shape: right, slightly wrong or odd."""
    data = draw(st.lists(TEXT_ITEM, max_size=3))
    shape = draw(
        st.sampled_from([[len(data)], [len(data), 1], [len(data) + 1], [len(data), 2]])
        | st.lists(st.integers(-1, 3) | st.booleans(), max_size=3)
    )
    tensor: dict[str, object] = {"name": "text", "datatype": "BYTES", "shape": shape}
    tensor["data"] = data
    if draw(st.booleans()):
        tensor["datatype"] = draw(st.sampled_from(["BYTES", "FP32", 1]))
    if draw(st.booleans()):
        tensor["parameters"] = (
            draw(ANY_JSON)
            if draw(st.booleans())
            else draw(
                st.dictionaries(
                    st.sampled_from(["content_type", "binary_data_size"]),
                    ANY_JSON,
                    max_size=2,
                )
            )
        )
    request: dict[str, object] = {"inputs": [tensor]}
    if draw(st.booleans()):
        request["id"] = draw(SCALAR)
    if draw(st.booleans()):
        request["parameters"] = draw(
            st.dictionaries(st.sampled_from(["timeout", "x"]), ANY_JSON, max_size=2)
        )
    if draw(st.booleans()):
        request["outputs"] = draw(
            st.lists(
                st.fixed_dictionaries(
                    {"name": st.sampled_from(["label", "score", "x", 3])}
                ),
                max_size=2,
            )
        )
    if draw(st.booleans()):
        request[draw(st.sampled_from(["extra", "inputs"]))] = draw(ANY_JSON)
    return request


def read_with(reader: object, body: bytes) -> object:
    """What ``reader`` makes of ``body``: the request, or the error's message."""
    try:
        return reader(body)  # type: ignore[operator]
    except errors.TensorError as error:
        return str(error)


@settings(max_examples=400, deadline=None)
@given(v2_requests())
def test_the_plain_reader_reads_as_the_full_parser(request: dict[str, object]) -> None:
    body = json.dumps(request).encode()
    plain = read_with(v2_plain.plain_infer, body)
    if plain is not None:
        assert plain == read_with(v2_codec.parse_infer, body)


@pytest.mark.parametrize(
    "request_",
    [
        {
            "inputs": [
                {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a"]}
            ]
        },
        {
            "id": "7",
            "inputs": [
                {
                    "name": "text",
                    "datatype": "BYTES",
                    "shape": [2, 1],
                    "data": [["a"], ["b"]],
                    "parameters": {"content_type": "str"},
                }
            ],
            "outputs": [{"name": "label"}],
            "parameters": {"timeout": 5000},
        },
    ],
)
def test_the_clients_requests_take_the_plain_reader(
    request_: dict[str, object],
) -> None:
    body = json.dumps(request_).encode()
    assert v2_plain.plain_infer(body) == v2_codec.parse_infer(body)


@pytest.mark.parametrize("parameters", [5, "x", [1], None])
def test_odd_tensor_parameters_leave_the_plain_reader_for_the_parser(
    parameters: object,
) -> None:
    tensor = {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a film"]}
    body = json.dumps({"inputs": [{**tensor, "parameters": parameters}]}).encode()
    if parameters is None:
        assert v2_plain.plain_infer(body) is not None
        return
    assert v2_plain.plain_infer(body) is None
    with pytest.raises(errors.TensorError, match="parameters"):
        v2_codec.parse_infer(body)

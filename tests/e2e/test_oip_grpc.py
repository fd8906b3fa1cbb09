"""The Open Inference Protocol over gRPC, against the shared real server.

``tritonclient.grpc`` and KServe's ``InferenceGRPCClient`` run from
``.venv-clients`` (as the REST clients of ``test_oip_clients.py`` do), each in a
process of its own: both register ``inference.*`` messages in protobuf's one
descriptor pool and cannot be imported together. Each must get, for 200 reviews,
exactly the labels ``/classify`` gives. Then, with the stubs generated from the
vendored proto: health, metadata and readiness; a call with a 50 ms deadline
beside a flood is ``DEADLINE_EXCEEDED`` and never scored, and so is a cancelled
call (counted from ``/metrics``: the flood's calls carry 100 reviews, the probe
13, so the reviews scored stay a multiple of 100).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devtools.corpus import corpus_reviews
from devtools.prometheus import sample_sum
from sentiment.rpc.proto import open_inference_grpc_pb2 as pb
from sentiment.rpc.proto import open_inference_grpc_pb2_grpc as pb_grpc
from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.e2e

CLIENTS_PYTHON = PROJECT_DIR / ".venv-clients" / "bin" / "python"
REVIEWS = [text for text in corpus_reviews() if 20 <= len(text) <= 300][:200]
FLOOD_CALLS = 320
PROBE_AFTER = 16  # flood calls answered before the probe: the queue is full
FLOOD_CONCURRENCY = 64
FLOOD_SIZE = 100
PROBE_SIZE = 13
SCORED = "sentiment_tenant_reviews_total"

TRITON_SCRIPT = """
import json, sys
import numpy as np
import tritonclient.grpc as grpcclient

target, texts = sys.argv[1], json.loads(sys.argv[2])
client = grpcclient.InferenceServerClient(target)
ready = [client.is_server_live(), client.is_server_ready()]
ready.append(client.is_model_ready("sentiment"))
metadata = client.get_model_metadata("sentiment", as_json=True)
tensor = grpcclient.InferInput("text", [len(texts)], "BYTES")
tensor.set_data_from_numpy(np.array([t.encode() for t in texts], dtype=object))
names = ("label", "score", "probabilities")
outputs = [grpcclient.InferRequestedOutput(n) for n in names]
result = client.infer("sentiment", [tensor], outputs=outputs, request_id="triton-g")
print(json.dumps({
    "ready": ready,
    "inputs": [i["name"] for i in metadata["inputs"]],
    "labels": [x.decode() for x in result.as_numpy("label").tolist()],
    "scores": result.as_numpy("score").tolist(),
    "probabilities": result.as_numpy("probabilities").tolist(),
    "id": result.get_response().id,
}))
"""

KSERVE_SCRIPT = """
import asyncio, json, sys
from kserve import InferenceGRPCClient, InferInput, InferRequest

async def main(target, texts):
    client = InferenceGRPCClient(target, timeout=60)
    tensor = InferInput(name="text", shape=[len(texts)], datatype="BYTES", data=texts)
    request = InferRequest(
        model_name="sentiment", infer_inputs=[tensor], request_id="kserve-g"
    )
    response = await client.infer(request)
    ready = [
        await client.is_server_live(),
        await client.is_server_ready(),
        await client.is_model_ready("sentiment"),
    ]
    await client.close()
    out = {o.name: o for o in response.outputs}
    raw = out["label"].as_numpy().tolist()
    labels = [x.decode() if isinstance(x, bytes) else str(x) for x in raw]
    print(json.dumps({"labels": labels, "id": response.id, "ready": ready}))

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""


@pytest.fixture(scope="module")
def classify_labels(server_url: str) -> list[str]:
    answer = httpx.post(f"{server_url}/classify", json={"texts": REVIEWS}, timeout=60)
    assert answer.status_code == 200
    return [item["label"] for item in answer.json()]


@pytest.fixture(scope="module")
def stub(grpc_target: str) -> Iterator[pb_grpc.GRPCInferenceServiceStub]:
    with grpc.insecure_channel(grpc_target) as channel:
        yield pb_grpc.GRPCInferenceServiceStub(channel)


def run_client(script: str, grpc_target: str) -> dict[str, object]:
    assert CLIENTS_PYTHON.exists(), "make test builds .venv-clients"
    result = subprocess.run(
        [str(CLIENTS_PYTHON), "-c", script, grpc_target, json.dumps(REVIEWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def infer_request(texts: list[str]) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="sentiment")
    tensor = request.inputs.add(name="text", datatype="BYTES", shape=[len(texts)])
    tensor.contents.bytes_contents.extend(text.encode() for text in texts)
    return request


def test_tritonclient_grpc_gets_the_labels_of_classify(
    grpc_target: str, classify_labels: list[str], server_url: str
) -> None:
    answer = run_client(TRITON_SCRIPT, grpc_target)
    assert len(REVIEWS) == 200
    assert answer["ready"] == [True, True, True]
    assert answer["inputs"] == ["text"] and answer["id"] == "triton-g"
    assert answer["labels"] == classify_labels
    rest = httpx.post(f"{server_url}/classify", json={"texts": REVIEWS[:5]}).json()
    assert answer["scores"][:5] == pytest.approx([r["score"] for r in rest], abs=1e-6)  # type: ignore[index]
    positive = [row[1] for row in answer["probabilities"][:5]]  # type: ignore[index]
    assert positive == pytest.approx(
        [r["probabilities"]["positive"] for r in rest], abs=1e-6
    )


def test_kserve_grpc_client_gets_the_labels_of_classify(
    grpc_target: str, classify_labels: list[str]
) -> None:
    answer = run_client(KSERVE_SCRIPT, grpc_target)
    assert answer["ready"] == [True, True, True] and answer["id"] == "kserve-g"
    assert answer["labels"] == classify_labels


def test_health_metadata_and_readiness_answer(
    stub: pb_grpc.GRPCInferenceServiceStub, grpc_target: str, server_url: str
) -> None:
    assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert stub.ServerReady(pb.ServerReadyRequest()).ready
    assert stub.ModelReady(pb.ModelReadyRequest(name="sentiment")).ready
    server = stub.ServerMetadata(pb.ServerMetadataRequest())
    assert server.version == httpx.get(f"{server_url}/v2").json()["version"]
    metadata = stub.ModelMetadata(pb.ModelMetadataRequest(name="sentiment"))
    rest = httpx.get(f"{server_url}/v2/models/sentiment").json()
    assert list(metadata.versions) == rest["versions"]
    assert [t.name for t in metadata.outputs] == [t["name"] for t in rest["outputs"]]
    with pytest.raises(grpc.RpcError) as missing:
        stub.ModelMetadata(pb.ModelMetadataRequest(name="other"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with grpc.insecure_channel(grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "inference.GRPCInferenceService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service))
            assert answer.status == health_pb2.HealthCheckResponse.SERVING


def scored(server_url: str) -> float:
    return sample_sum(httpx.get(f"{server_url}/metrics").text, SCORED)


async def flood_with_probe(
    grpc_target: str, probe_timeout: float | None, cancel_after: float | None
) -> tuple[grpc.StatusCode | None, int]:
    """A flood of 100-review calls, with one 13-review probe sent in its midst.

    Returns the probe's status (None: cancelled) and the flood's OK calls.
    """
    flood = infer_request([REVIEWS[i % 200] for i in range(FLOOD_SIZE)])
    probe = infer_request(REVIEWS[:PROBE_SIZE])
    async with grpc.aio.insecure_channel(grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        gate = asyncio.Semaphore(FLOOD_CONCURRENCY)
        answered = [0]
        under_way = asyncio.Event()

        async def one() -> bool:
            async with gate:
                try:
                    await stub.ModelInfer(flood, timeout=60)
                    return True
                except grpc.aio.AioRpcError:
                    return False
                finally:
                    answered[0] += 1
                    if answered[0] >= PROBE_AFTER:
                        under_way.set()

        calls = [asyncio.create_task(one()) for _ in range(FLOOD_CALLS)]
        await under_way.wait()
        assert answered[0] < FLOOD_CALLS - 2 * FLOOD_CONCURRENCY  # still flooding
        call = stub.ModelInfer(probe, timeout=probe_timeout)
        status: grpc.StatusCode | None = None
        if cancel_after is not None:
            await asyncio.sleep(cancel_after)
            call.cancel()
        try:
            await call
            status = grpc.StatusCode.OK
        except asyncio.CancelledError:
            status = None
        except grpc.aio.AioRpcError as error:
            status = error.code()
        ok = sum(await asyncio.gather(*calls))
    return status, ok


def test_a_50ms_deadline_beside_a_flood_is_exceeded_and_not_scored(
    grpc_target: str, server_url: str
) -> None:
    before = scored(server_url)
    status, ok = asyncio.run(flood_with_probe(grpc_target, 0.05, None))
    assert status == grpc.StatusCode.DEADLINE_EXCEEDED
    delta = scored(server_url) - before
    assert ok > 0 and delta % FLOOD_SIZE == 0, (delta, ok)


def test_a_cancelled_call_is_not_scored(grpc_target: str, server_url: str) -> None:
    before = scored(server_url)
    status, ok = asyncio.run(flood_with_probe(grpc_target, 60, 0.02))
    assert status in (None, grpc.StatusCode.CANCELLED)
    delta = scored(server_url) - before
    assert ok > 0 and delta % FLOOD_SIZE == 0, (delta, ok)


def test_bad_tensors_are_invalid_argument_naming_the_field(
    stub: pb_grpc.GRPCInferenceServiceStub,
) -> None:
    wrong_type = infer_request(["a fine film"])
    wrong_type.inputs[0].datatype = "FP32"
    wrong_shape = infer_request(["a fine film"])
    wrong_shape.inputs[0].shape[:] = [2]
    empty = infer_request([""])
    bad_raw = pb.ModelInferRequest(model_name="sentiment", raw_input_contents=[b"\x09"])
    bad_raw.inputs.add(name="text", datatype="BYTES", shape=[1])
    for request, field in (
        (wrong_type, "inputs[0].datatype"),
        (wrong_shape, "inputs[0].contents.bytes_contents"),
        (empty, "inputs[0].data[0]"),
        (bad_raw, "raw_input_contents[0]"),
    ):
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(request, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in (refused.value.details() or ""), refused.value.details()


def test_raw_input_contents_get_the_same_answer(
    stub: pb_grpc.GRPCInferenceServiceStub,
) -> None:
    texts = REVIEWS[:3]
    plain = stub.ModelInfer(infer_request(texts), timeout=30)
    raw = pb.ModelInferRequest(model_name="sentiment")
    raw.inputs.add(name="text", datatype="BYTES", shape=[3, 1])
    encoded = [text.encode() for text in texts]
    raw.raw_input_contents.append(
        b"".join(len(item).to_bytes(4, "little") + item for item in encoded)
    )
    assert stub.ModelInfer(raw, timeout=30).raw_output_contents == (
        plain.raw_output_contents
    )


def test_the_server_log_names_the_grpc_port(server_log: Path, grpc_target: str) -> None:
    assert f"gRPC (Open Inference Protocol) on {grpc_target}" in server_log.read_text()


def test_grpc_calls_are_counted_by_method_and_code(server_url: str) -> None:
    """Last: the calls above left their codes in /metrics, by method."""
    exposition = httpx.get(f"{server_url}/metrics").text
    infer = "/inference.GRPCInferenceService/ModelInfer"
    for code in ("OK", "INVALID_ARGUMENT"):
        counted = sample_sum(exposition, "sentiment_grpc_requests_total", code=code)
        assert counted > 0, code
    assert sample_sum(exposition, "sentiment_grpc_requests_total", method=infer) > 0
    assert "sentiment_grpc_request_duration_seconds_bucket{" in exposition

"""gRPC ModelInfer against REST V2 infer and ``/classify``, and MLServer's gRPC.

Single reviews and 100-review requests at 64 concurrent calls: wrk for the two
REST endpoints, h2load (nghttp2) for gRPC, 64 connections of one stream each,
posting one length-prefixed ``ModelInferRequest`` (h2load reads no gRPC
trailers, so each gRPC run's failures are counted from the server's
``sentiment_grpc_requests_total``). MLServer 1.7.1 serves the same model file
beside it (:mod:`bench.mlserver_app`, its own venv), and its gRPC gets the same
h2load runs; its answer to each body is checked once, before the runs. The runs
alternate, round after round, so the machine's noise hits every side.

Usage: ``python -m bench.oip_grpc [--rounds 2] [--duration 8]``. Writes
``bench/results/oip_grpc.{json,md}``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess  # nosec B404
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import httpx

from bench.alternate import in_turn
from bench.alternate import main as alternate_main
from bench.bulk import store_path
from devtools.corpus import corpus_reviews
from devtools.prometheus import sample_sum
from devtools.servers import PROJECT_DIR, bentoml_serve, free_port, stop, tail
from devtools.wrk import run_wrk, summarise, write_bodies

MLSERVER_PYTHON = PROJECT_DIR / ".venv-mlserver" / "bin" / "python"
MLSERVER_READY_S = 120.0
CONNECTIONS = 64
SHAPES = {"single": 1, "100 reviews": 100}
RATE = re.compile(r"finished in [\d.]+\w*, ([\d.]+) req/s")


def v2_bodies(reviews: list[str], size: int, path: Path) -> Path:
    """One V2 REST request per line, ``size`` reviews each."""
    with path.open("w") as handle:
        for start in range(0, min(len(reviews), 20_000) - size, size):
            data = reviews[start : start + size]
            tensor = {
                "name": "text",
                "datatype": "BYTES",
                "shape": [size],
                "data": data,
            }
            handle.write(json.dumps({"inputs": [tensor]}) + "\n")
    return path


def grpc_body(reviews: list[str], size: int, path: Path) -> Path:
    """One gRPC frame (flag, big-endian length, message) of ``size`` reviews."""
    from sentiment.rpc.proto import open_inference_grpc_pb2 as pb

    request = pb.ModelInferRequest(model_name="sentiment")
    tensor = request.inputs.add(name="text", datatype="BYTES", shape=[size])
    tensor.contents.bytes_contents.extend(t.encode() for t in reviews[:size])
    message = request.SerializeToString()
    path.write_bytes(b"\x00" + len(message).to_bytes(4, "big") + message)
    return path


def run_h2load(target: str, body: Path, seconds: float) -> float:
    """One h2load run of gRPC ModelInfer; its requests per second."""
    binary = shutil.which("h2load")
    if binary is None:
        raise RuntimeError("h2load not found (Debian: apt-get install nghttp2-client)")
    command = [
        binary,
        "-c",
        str(CONNECTIONS),
        "-m",
        "1",
        "-D",
        f"{round(seconds)}s",
        "-H",
        "content-type: application/grpc",
        "-H",
        "te: trailers",
        "-d",
        str(body),
        f"http://{target}/inference.GRPCInferenceService/ModelInfer",
    ]
    result = subprocess.run(  # noqa: S603  # nosec B603
        command, capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    found = RATE.search(result.stdout)
    if found is None:
        raise RuntimeError(f"h2load said:\n{result.stdout[-2000:]}")
    return float(found.group(1))


@contextmanager
def mlserver(model_path: str, log: Path) -> Iterator[str]:
    """MLServer 1.7.1 on the model file (:mod:`bench.mlserver_app`); its gRPC target."""
    http_port, grpc_port = free_port(), free_port()
    env = {**os.environ, "BENCH_MODEL_PATH": model_path, "PYTHONPATH": str(PROJECT_DIR)}
    command = [str(MLSERVER_PYTHON), "-m", "bench.mlserver_app"]
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603  # nosec B603
            [*command, str(http_port), str(grpc_port)],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ready = f"http://127.0.0.1:{http_port}/v2/models/sentiment/ready"
    try:
        deadline = time.monotonic() + MLSERVER_READY_S
        while not answers(ready):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"MLServer did not get ready:\n{tail(log)}")
            time.sleep(0.5)
        yield f"127.0.0.1:{grpc_port}"
    finally:
        stop(process)


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 now."""
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def check_labels(target: str, frame: Path, size: int) -> None:
    """One call with the h2load body: OK and ``size`` labels, or RuntimeError."""
    message = frame.read_bytes()[5:]  # the gRPC frame's 5-byte prefix
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=None,
            response_deserializer=None,
        )
        answer = call(message, timeout=30)
    from sentiment.rpc.proto import open_inference_grpc_pb2 as pb

    label = pb.ModelInferResponse.FromString(answer).outputs[0]
    if label.name != "label" or list(label.shape)[0] != size:
        raise RuntimeError(f"{target} answered {label} for {size} reviews")


def grpc_failures(url: str) -> float:
    """The gRPC calls the server answered with anything but OK, so far."""
    text = httpx.get(f"{url}/metrics").text
    total = sample_sum(text, "sentiment_grpc_requests_total")
    return total - sample_sum(text, "sentiment_grpc_requests_total", code="OK")


def measure(rounds: int, seconds: float, work: Path) -> dict[str, Any]:
    """Alternate the four sides on both shapes; median reviews/s each."""
    from sentiment.lifecycle.registry import serving_choice

    reviews = list(corpus_reviews())
    grpc_port = free_port()
    env = {"SENTIMENT_GRPC_PORT": str(grpc_port)}
    target = f"127.0.0.1:{grpc_port}"
    model_path = store_path(serving_choice(None, "sentiment").tag)
    with (
        bentoml_serve("service:SentimentClassifier", work / "serve.log", env) as url,
        mlserver(model_path, work / "mlserver.log") as theirs,
    ):
        measures: dict[str, Callable[[], float]] = {}
        for shape, size in SHAPES.items():
            classify = write_bodies(reviews, size, work / f"classify-{size}.jsonl")
            v2 = v2_bodies(reviews, size, work / f"v2-{size}.jsonl")
            frame = grpc_body(reviews, size, work / f"grpc-{size}.bin")
            for each in (target, theirs):
                check_labels(each, frame, size)

            def wrk(path: str, bodies: Path, size: int = size) -> Callable[[], float]:
                return lambda: summarise(
                    run_wrk(f"{url}{path}", bodies, CONNECTIONS, seconds), size
                )["reviews_per_s"]

            def h2(at: str, frame: Path, size: int) -> Callable[[], float]:
                return lambda: run_h2load(at, frame, seconds) * size

            measures[f"/classify, {shape}"] = wrk("/classify", classify)
            measures[f"V2 REST, {shape}"] = wrk("/v2/models/sentiment/infer", v2)
            measures[f"gRPC, {shape}"] = h2(target, frame, size)
            measures[f"MLServer gRPC, {shape}"] = h2(theirs, frame, size)
        for run in measures.values():  # warm up every path
            run()
        failures_before = grpc_failures(url)
        runs = in_turn(measures, rounds)
        failures = grpc_failures(url) - failures_before
    rates = {name: statistics.median(values) for name, values in runs.items()}

    def ratio(name: str, shape: str) -> float:
        return round(rates[f"gRPC, {shape}"] / rates[f"{name}, {shape}"], 3)

    return {
        "connections": CONNECTIONS,
        "seconds": seconds,
        "runs_reviews_per_s": runs,
        "median_reviews_per_s": rates,
        "grpc_over_classify": {shape: ratio("/classify", shape) for shape in SHAPES},
        "grpc_over_mlserver": {
            shape: ratio("MLServer gRPC", shape) for shape in SHAPES
        },
        "grpc_failures": failures,
    }


def markdown(report: dict[str, Any]) -> str:
    """The table of median reviews/s and gRPC's ratio to /classify."""
    lines = [
        "# gRPC ModelInfer against REST V2, /classify and MLServer's gRPC",
        "",
        f"{report['connections']} concurrent calls, {report['seconds']} s runs, "
        "alternated; median reviews/s (python -m bench.oip_grpc). MLServer 1.7.1: "
        "the same model file, adaptive batching (16 requests / 5 ms), 2 parallel "
        "workers (bench/mlserver_app.py).",
        "",
        "| endpoint | reviews/s |",
        "| --- | --- |",
    ]
    for name, rate in report["median_reviews_per_s"].items():
        lines.append(f"| {name} | {rate:,.0f} |")

    def ratios(key: str) -> str:
        return ", ".join(f"{shape} {x}x" for shape, x in report[key].items())

    lines += [
        "",
        f"gRPC / `/classify`: {ratios('grpc_over_classify')}; gRPC / MLServer's "
        f"gRPC: {ratios('grpc_over_mlserver')}; our gRPC calls not OK: "
        f"{report['grpc_failures']:.0f}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Measure and write the report."""
    return alternate_main("oip_grpc", __doc__ or "", measure, markdown, argv)


if __name__ == "__main__":
    sys.exit(main())

"""MLServer 1.7.1 serving the same pickled pipeline: ``bench.oip_grpc``'s baseline.

A custom runtime (MLServer's ``mlserver_sklearn`` would call the pipeline's own
``predict_proba``, not the scorer the service uses) that loads the pipeline file
the BentoML service loads (``BENCH_MODEL_PATH``) through the project's scorer and
applies the same review rules, so the difference is the server. MLServer's own
tuning: adaptive batching (up to 16 requests or 5 ms, as the LitServe baseline)
and 2 parallel inference workers, one per core, as the service's 2 workers.

It runs in its own venv (``.venv-mlserver``, ``requirements/mlserver.txt``):
``BENCH_MODEL_PATH=... .venv-mlserver/bin/python -m bench.mlserver_app HTTP GRPC``
writes MLServer's settings into a temporary folder and becomes ``mlserver start``
on those ports (127.0.0.1, no metrics server).
"""

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from mlserver import MLModel  # type: ignore[import-not-found]  # .venv-mlserver only
from mlserver.codecs import NumpyCodec, StringCodec  # type: ignore[import-not-found]
from mlserver.errors import MLServerError  # type: ignore[import-not-found]
from mlserver.types import (  # type: ignore[import-not-found]
    InferenceRequest,
    InferenceResponse,
)

from sentiment.model.reviews import stripped_if_valid
from sentiment.model.scorer import scorer, speed_up_inference

MODEL_NAME = "sentiment"
MAX_BATCH_SIZE = 16  # requests per model call
MAX_BATCH_TIME_S = 0.005
PARALLEL_WORKERS = 2


class SentimentRuntime(MLModel):  # type: ignore[misc]  # MLServer ships no types
    """The pipeline's labels and probabilities for one BYTES tensor of reviews."""

    async def load(self) -> bool:
        """Load the pickled pipeline and its scorer, as the service does."""
        pipeline = joblib.load(self.settings.parameters.uri)
        self.classes = [str(label) for label in pipeline.classes_]
        self.predict_proba = scorer(speed_up_inference(pipeline))
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        """``label`` (BYTES) and ``probabilities`` (FP32, one row per review)."""
        texts = stripped_if_valid(StringCodec.decode_input(payload.inputs[0]))
        if texts is None:
            raise MLServerError("every review must keep the review rules")
        proba = np.asarray(self.predict_proba(texts), dtype=np.float32)
        labels = [self.classes[column] for column in proba.argmax(axis=1)]
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            outputs=[
                StringCodec.encode_output("label", labels),
                NumpyCodec.encode_output("probabilities", proba),
            ],
        )


def settings(http_port: int, grpc_port: int, model_path: str) -> dict[str, Any]:
    """MLServer's ``settings.json`` and ``model-settings.json``, by file name."""
    return {
        "settings.json": {
            "host": "127.0.0.1",
            "http_port": http_port,
            "grpc_port": grpc_port,
            "metrics_endpoint": None,
            "parallel_workers": PARALLEL_WORKERS,
            "debug": False,
        },
        "model-settings.json": {
            "name": MODEL_NAME,
            "implementation": "bench.mlserver_app.SentimentRuntime",
            "max_batch_size": MAX_BATCH_SIZE,
            "max_batch_time": MAX_BATCH_TIME_S,
            "parameters": {"uri": model_path},
        },
    }


def main(http_port: int, grpc_port: int) -> None:
    """Write the settings, then become ``mlserver start`` on them."""
    folder = Path(tempfile.mkdtemp(prefix="bench-mlserver-"))
    for name, content in settings(
        http_port, grpc_port, os.environ["BENCH_MODEL_PATH"]
    ).items():
        (folder / name).write_text(json.dumps(content))
    binary = str(Path(sys.executable).with_name("mlserver"))
    os.execv(binary, [binary, "start", str(folder)])  # noqa: S606  # nosec B606


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))

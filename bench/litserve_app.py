"""LitServe, tuned for throughput, as a benchmark baseline for bulk requests.

The tuning the issue measured: 2 API servers (uvicorn processes in front), the
ZeroMQ queue between them and the model (``fast_queue``), batches of up to 16
requests or 5 ms, and 2 model workers on the CPU. It serves the same pickled
pipeline file the BentoML service loads (``BENCH_MODEL_PATH``, the store
file ``bench.run`` resolves) through the project's scorer, and applies the same
review rules, so the difference is the server.

It runs in its own venv (``.venv-litserve``, ``requirements/litserve.txt``):
LitServe pins its own fastapi and uvicorn. Run:
``BENCH_MODEL_PATH=... .venv-litserve/bin/python -m bench.litserve_app PORT``.
"""

import os
import sys
from typing import Any

import joblib
import litserve as ls  # type: ignore[import-not-found]  # in .venv-litserve only
from fastapi import HTTPException

from sentiment.model.reviews import review_problem, stripped_if_valid
from sentiment.model.scorer import scorer, speed_up_inference

MAX_BATCH_SIZE = 16  # requests per model call
BATCH_TIMEOUT_S = 0.005
WORKERS = 2
API_SERVERS = 2
MAX_TEXTS = 256


def checked(texts: Any) -> list[str]:
    """The texts stripped, or a 400 naming the first broken rule and its item."""
    if not isinstance(texts, list) or not 1 <= len(texts) <= MAX_TEXTS:
        raise HTTPException(400, f"texts must be a list of 1 to {MAX_TEXTS} reviews")
    try:
        stripped = stripped_if_valid(texts)
    except TypeError:
        raise HTTPException(400, "every review must be a string") from None
    if stripped is not None:
        return stripped
    for index, text in enumerate(texts):
        if problem := review_problem(text):
            raise HTTPException(400, f"texts[{index}]: {problem[0]}")
    return [text.strip() for text in texts]


class SentimentAPI(ls.LitAPI):  # type: ignore[misc]  # LitServe ships no types
    """One request is a list of reviews; a batch is up to 16 such lists."""

    def setup(self, device: str) -> None:
        """Load the pickled pipeline and its scorer, as the service does."""
        pipeline = joblib.load(os.environ["BENCH_MODEL_PATH"])
        self.classes = [str(label) for label in pipeline.classes_]
        self.predict_proba = scorer(speed_up_inference(pipeline))

    def decode_request(self, request):  # type: ignore[no-untyped-def]
        """The request's reviews, checked.

        Unannotated on purpose: LitServe reads the annotation to decide how to
        parse the body, and none means JSON (an annotation it does not know
        makes ``request`` a query parameter).
        """
        return checked(request.get("texts"))

    def batch(self, inputs: list[list[str]]) -> tuple[list[str], list[int]]:
        """All the batch's reviews in one list, and where each request ends."""
        flat = [text for texts in inputs for text in texts]
        ends, total = [], 0
        for texts in inputs:
            total += len(texts)
            ends.append(total)
        return flat, ends

    def predict(self, batch: tuple[list[str], list[int]]) -> list[Any]:
        """One ``predict_proba`` for the whole batch, split back by request."""
        flat, ends = batch
        proba = self.predict_proba(flat)
        starts = [0, *ends[:-1]]
        return [proba[start:end] for start, end in zip(starts, ends, strict=True)]

    def unbatch(self, output: list[Any]) -> list[Any]:
        """Already one item per request."""
        return output

    def encode_response(self, output: Any) -> list[dict[str, Any]]:
        """The service's answer shape: label, score, probabilities."""
        best = output.argmax(axis=1).tolist()
        return [
            {
                "label": self.classes[column],
                "score": row[column],
                "probabilities": dict(zip(self.classes, row, strict=True)),
            }
            for column, row in zip(best, output.tolist(), strict=True)
        ]


def main(port: int) -> None:
    """Serve on 127.0.0.1:``port`` until stopped."""
    api = SentimentAPI(
        max_batch_size=MAX_BATCH_SIZE,
        batch_timeout=BATCH_TIMEOUT_S,
        api_path="/classify",
    )
    server = ls.LitServer(
        api,
        accelerator="cpu",
        workers_per_device=WORKERS,
        fast_queue=True,
        healthcheck_path="/readyz",
    )
    server.run(
        host="127.0.0.1",
        port=port,
        num_api_servers=API_SERVERS,
        log_level="warning",
        generate_client_file=False,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))

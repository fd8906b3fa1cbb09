"""The classic design, as a benchmark baseline: FastAPI, one predict per request.

This is how the project this bundle grew from served its model. It loads the same
pipeline from the BentoML model store (``SENTIMENT_MODEL_TAG``, default
``sentiment:latest``), scores it with the service's own scorer and applies the same
validation rules, so the only difference from the BentoML service is batching and
framework.

Run: ``uvicorn bench.fastapi_app:app --workers 2 --loop uvloop --http httptools``.
"""

from __future__ import annotations

import os

import bentoml
import joblib
from fastapi import FastAPI
from pydantic import BaseModel

from sentiment.config import load_settings
from sentiment.http.schemas import reviews_type
from sentiment.model.artifact import MODEL_FILE
from sentiment.model.labels import to_predictions
from sentiment.model.scorer import scorer, speed_up_inference

MODEL_TAG = os.environ.get("SENTIMENT_MODEL_TAG", "sentiment:latest")
Reviews = reviews_type(load_settings().max_texts)
stored = bentoml.models.get(MODEL_TAG)
pipeline = joblib.load(stored.path_of(MODEL_FILE))
# The served labels, in classes_ order (an import may name its 0/1 classes).
classes = [str(label) for label in stored.info.metadata["labels"]]  # type: ignore[union-attr]
predict_proba = scorer(speed_up_inference(pipeline))  # the service's own scorer
app = FastAPI(title="sentiment baseline")


class ClassifyRequest(BaseModel):
    """Same body and rules as the BentoML service."""

    texts: Reviews  # type: ignore[valid-type]  # built at import, like the service


@app.post("/classify")
def classify(body: ClassifyRequest) -> list[dict[str, object]]:
    """One ``predict_proba`` per request, run in FastAPI's thread pool."""
    return to_predictions(predict_proba(body.texts), classes)


@app.get("/readyz")
def readyz() -> str:
    """Ready once the module (and so the model) is loaded."""
    return "ok"

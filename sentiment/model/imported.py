"""The record an imported model carries: where it came from, what its scores are."""

from __future__ import annotations

from pydantic import BaseModel


class Imported(BaseModel):
    """A model brought with ``make import``, not trained by ``train.py``."""

    source: str  # the file's name
    sha256: str  # of the file as given
    estimator: str  # the class of the object, e.g. Pipeline(TfidfVectorizer, LinearSVC)
    classes: list[
        str
    ]  # its classes_ as it has them; the served labels are metadata.labels
    scores: str  # sentiment.model.decision.PROBABILITIES or UNCALIBRATED
    calibrated_on: str | None = None  # CALIBRATE=1: the file its scores were fitted on
    evaluated_on: str  # what the metrics and the card were measured on
    checks_run: list[str]  # the gate's checks that apply to it

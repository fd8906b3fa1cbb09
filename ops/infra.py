"""The infrastructure check: does a model load and answer in a real server?

In the spirit of TFX's InfraValidator: start ``bentoml serve`` pinned to the
candidate (one worker, a free port on 127.0.0.1), send canned requests, check the
answers have the API's shape and labels, and stop the server.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from ops.servers import bentoml_serve

SERVICE = "service:SentimentClassifier"
CANNED = ["a wonderful, moving film", "a dull, lifeless mess", "not bad at all"]


def serving_problem(tag: str) -> str | None:
    """None when ``tag`` serves correctly, else what went wrong (one line)."""
    with tempfile.TemporaryDirectory(prefix="infra-check-") as scratch:
        log = Path(scratch) / "serve.log"
        env = {"SENTIMENT_MODEL_TAG": tag, "SENTIMENT_WORKERS": "1"}
        try:
            with bentoml_serve(SERVICE, log, env=env) as url:
                return answers_problem(url, tag)
        except (RuntimeError, TimeoutError) as error:
            last = str(error).strip().splitlines()[-1:] or ["no log"]
            return f"server did not start: {last[0][:200]}"


def answers_problem(url: str, tag: str) -> str | None:
    """Check /model-info, /classify and /explain of a running server.

    ``/explain`` may answer 409 (a model it cannot read says why); never a 5xx.
    """
    body = {"texts": CANNED}
    with httpx.Client(base_url=url, timeout=30) as client:
        info = client.get("/model-info")
        if info.status_code != 200 or info.json().get("tag") != tag:
            return f"/model-info does not name {tag}"
        labels = set(info.json()["labels"])
        classify = client.post("/classify", json=body)
        if classify.status_code != 200:
            return f"/classify answered {classify.status_code}"
        predictions = classify.json()
        if len(predictions) != len(CANNED) or any(
            p["label"] not in labels or set(p["probabilities"]) != labels
            for p in predictions
        ):
            return f"/classify answer breaks the API: {predictions!r:.200}"
        if classify.headers.get("x-model-version") != tag:
            return f"X-Model-Version is {classify.headers.get('x-model-version')!r}"
        explain = client.post("/explain", json=body)
        if explain.status_code == 409:
            return None
        if explain.status_code != 200 or len(explain.json()) != len(CANNED):
            return f"/explain answered {explain.status_code}"
    return None

"""The seed's own pipeline, imported, served here and by the FastAPI design in turn.

Fits the seed pipeline (``CountVectorizer -> TfidfTransformer ->
LogisticRegression(C=1e5)``, labels 0/1) on ``data/`` without its evaluation
slice, dumps it with joblib and brings it in with ``import_model.py`` (labels
named negative/positive) into a temporary store. Then the same stored file is
served by ``bentoml serve`` (this tree) and by ``bench/fastapi_app.py`` (uvicorn,
one predict per request, the service's scorer and review rules), alternately for
``--rounds``, each measured by wrk with single reviews at ``--connections``.

Usage: ``python -m bench.own_model [--rounds 3 --duration 10 --connections 64]``.
Writes ``bench/results/own-model.json`` and prints one JSON line per point.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from bench.overload import closed_loop, raise_file_limit
from bench.run import fastapi_command
from devtools.corpus import corpus_reviews
from devtools.servers import bentoml_process, free_port, ready_process
from devtools.wrk import run_wrk, write_bodies

RESULTS = Path(__file__).resolve().parent / "results" / "own-model.json"
NAME = "seed-import"


def import_seed(work: Path) -> str:
    """Fit, dump and import the seed pipeline; its tag (BENTOML_HOME already set)."""
    import bentoml
    import joblib
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    import import_model
    import train
    from sentiment.training.data import clean_reviews, load_reviews, split_eval_slice

    reviews, _ = clean_reviews(load_reviews(train.DEFAULT_DATA))
    trainable, _ = split_eval_slice(reviews)
    pipeline = Pipeline(
        [
            ("counts", CountVectorizer()),
            ("tfidf", TfidfTransformer()),
            ("clf", LogisticRegression(C=1e5, max_iter=1000)),
        ]
    ).fit(list(trainable["text"]), (trainable["label"] == "positive").astype(int))
    path = work / "seed.joblib"
    joblib.dump(pipeline, path)
    argv = [str(path), "--model-name", NAME, "--labels", "negative,positive"]
    if import_model.main(argv) != 0:
        raise SystemExit("bench.own_model: the import was refused")
    return str(bentoml.models.get(f"{NAME}:latest").tag)


def measure(
    name: str, env: dict[str, str], work: Path, bodies: Path, c: int, seconds: float
) -> dict[str, Any]:
    """Start one design, warm it, run one wrk point, stop it."""
    log = work / f"{name}.log"
    if name == "bentoml":
        served = bentoml_process("service:SentimentClassifier", log, env, timeout=120)
        with served as (process, url):
            run_wrk(url, bodies, 16, 3)
            return closed_loop(url, process.pid, bodies, c, seconds)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with ready_process(
        fastapi_command(port, 2), url, log, {**os.environ, **env}
    ) as proc:
        run_wrk(url, bodies, 16, 3)
        return closed_loop(url, proc.pid, bodies, c, seconds)


def main(argv: list[str] | None = None) -> int:
    """Import the seed pipeline, then measure both designs alternately."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    raise_file_limit()
    with tempfile.TemporaryDirectory(prefix="own-model-") as tmp:
        work = Path(tmp)
        os.environ["BENTOML_HOME"] = str(work / "home")  # before bentoml is imported
        tag = import_seed(work)
        env = {"SENTIMENT_MODEL_TAG": tag}
        bodies = write_bodies(list(corpus_reviews()), 1, work / "bodies.jsonl")
        rows: list[dict[str, Any]] = []
        for round_ in range(args.rounds):
            order = ["bentoml", "fastapi"][:: 1 if round_ % 2 == 0 else -1]
            for name in order:
                c, seconds = args.connections, args.duration
                row = measure(name, env, work, bodies, c, seconds)
                rows.append({"design": name, "round": round_, "c": c, **row})
                print(json.dumps(rows[-1]))
                time.sleep(2)
    rates = {
        name: median(r["req_per_s"] for r in rows if r["design"] == name)
        for name in ("bentoml", "fastapi")
    }
    summary = {
        "model": "seed pipeline, imported (Count -> TF-IDF -> LogisticRegression)",
        "connections": args.connections,
        "median_req_per_s": rates,
        "bentoml_over_fastapi": round(rates["bentoml"] / rates["fastapi"], 3),
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

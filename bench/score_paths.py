"""The three file-scoring paths on one 200,000-row file, side by side, one run.

Usage: ``python -m bench.score_paths [--rows 200000]`` (``make bench-score``).
Measures rows/s of the job endpoint, ``score.py`` and Spark local mode on the same
reviews; the model's in-process rate at batch 4096 for reference; and /classify
latency (wrk, single reviews, 16 connections) with and without a job running.
Writes ``bench/results/score_paths.json`` (and prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from devtools.corpus import corpus_reviews
from devtools.servers import BIN_DIR, PROJECT_DIR, bentoml_serve
from devtools.wrk import run_wrk, summarise, write_bodies

RESULTS_DIR = PROJECT_DIR / "bench" / "results"  # committed reports


def reviews(rows: int) -> pd.DataFrame:
    """``rows`` corpus reviews (repeated), with an id and a partition column."""
    texts = list(corpus_reviews())
    texts = (texts * (rows // len(texts) + 1))[:rows]
    return pd.DataFrame(
        {"id": range(rows), "text": texts, "part": [i % 4 for i in range(rows)]}
    )


def model_rate(frame: pd.DataFrame) -> float:
    """The model's rows/s in process, one core, batches of 4,096."""
    import bentoml

    from sentiment.model.artifact import load_pipeline
    from sentiment.model.scorer import scorer

    predict = scorer(load_pipeline(bentoml.models.get("sentiment:latest")))
    texts = list(frame["text"][:40_960])
    started = time.perf_counter()
    for start in range(0, len(texts), 4096):
        predict(texts[start : start + 4096])
    return len(texts) / (time.perf_counter() - started)


def cli_rate(source: Path, work: Path) -> float:
    """rows/s that score.py reports."""
    out = subprocess.run(
        [str(BIN_DIR / "python"), "score.py", str(source), str(work / "cli.csv")],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(re.search(r"([\d,]+) rows/s", out).group(1).replace(",", ""))  # type: ignore[union-attr]


def spark_rate(source: Path, work: Path) -> dict[str, float]:
    """rows/s of the Spark job in local[2] mode, scoring only and end to end."""
    started = time.perf_counter()
    out = subprocess.run(
        [
            str(BIN_DIR / "spark-submit"),
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            "ops/spark_score.py",
            str(source),
            str(work / "spark-out"),
        ],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": str(BIN_DIR / "python"),
        },
    ).stdout
    total = time.perf_counter() - started
    job = float(re.search(r"\(([\d,]+) rows/s\)", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    rows = int(re.search(r"scored ([\d,]+) rows", out).group(1).replace(",", ""))  # type: ignore[union-attr]
    return {"job_rows_per_s": job, "end_to_end_rows_per_s": rows / total}


def submit(url: str, content: bytes, name: str) -> str:
    """Submit a file job; its task ID."""
    r = httpx.post(
        f"{url}/classify_file/submit", files={"file": (name, content)}, timeout=120
    )
    r.raise_for_status()
    return str(r.json()["task_id"])


def wait(url: str, task: str) -> dict[str, Any]:
    """Poll a job until it ends; its last status."""
    while True:
        status = httpx.get(
            f"{url}/classify_file/status", params={"task_id": task}
        ).json()
        if status["status"] != "in_progress":
            return dict(status)
        time.sleep(0.05)


def endpoint(content: bytes, big: bytes, work: Path) -> dict[str, Any]:
    """Job endpoint rows/s; /classify single@16 p50/p99 without and during a job."""
    bodies = write_bodies(list(corpus_reviews()), 1, work / "single.jsonl")
    with bentoml_serve("service:SentimentClassifier", work / "serve.log") as url:
        run_wrk(url, bodies, 16, 3)
        idle = summarise(run_wrk(url, bodies, 16, 8), 1)
        started = time.perf_counter()
        status = wait(url, submit(url, content, "reviews.csv"))
        seconds = time.perf_counter() - started
        busy_task = submit(url, big, "big.csv")
        time.sleep(1)
        busy = summarise(run_wrk(url, bodies, 16, 8), 1)
        wait(url, busy_task)
    return {
        "job_rows_per_s": status["rows"] / seconds,
        "classify_idle": {k: idle[k] for k in ("req_per_s", "p50_ms", "p99_ms")},
        "classify_during_job": {k: busy[k] for k in ("req_per_s", "p50_ms", "p99_ms")},
    }


def main(argv: list[str] | None = None) -> int:
    """Measure and write the reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    frame = reviews(args.rows)
    with tempfile.TemporaryDirectory(prefix="score-paths-") as tmp:
        work = Path(tmp)
        csv_path = work / "reviews.csv"
        frame.to_csv(csv_path, index=False)
        parquet_dir = work / "reviews_parquet"
        frame.to_parquet(parquet_dir, partition_cols=["part"])
        big = reviews(600_000).to_csv(index=False).encode()
        report = {
            "rows": args.rows,
            "model_rows_per_s_one_core": model_rate(frame),
            "cli_rows_per_s": cli_rate(csv_path, work),
            "spark_local": spark_rate(parquet_dir, work),
            "endpoint": endpoint(csv_path.read_bytes(), big, work),
        }
    (RESULTS_DIR / "score_paths.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

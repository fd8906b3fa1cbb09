"""The Spark job in local mode on 50,000 rows: every label and score as in-process.

Needs Java and pyspark (requirements/bulk.txt, which `make test` installs); without
Java the test skips naming the install, except under ``CI=1``, where it fails.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import bentoml
import numpy as np
import pandas as pd
import pytest

from devtools.corpus import corpus_reviews
from devtools.servers import BIN_DIR, PROJECT_DIR
from devtools.tools import require
from sentiment.jobs.scoring import score_table
from sentiment.model.artifact import load_pipeline
from sentiment.model.scorer import scorer

pytestmark = pytest.mark.e2e
ROWS = 50_000


def reviews(rows: int) -> pd.DataFrame:
    texts = list(corpus_reviews())
    texts = (texts * (rows // len(texts) + 1))[:rows]
    for index in (3, 777, 40_000):
        texts[index] = "123"  # refused: review_is_number
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "text": texts,
            "part": np.where(np.arange(rows) % 2, "b", "a"),
        }
    )


def test_spark_local_mode_scores_like_the_pipeline(
    trained_model: str, tmp_path: Path
) -> None:
    require("java")
    frame = reviews(ROWS)
    source = tmp_path / "in"
    frame.to_parquet(source, partition_cols=["part"])
    target = tmp_path / "out"
    result = subprocess.run(
        [
            str(BIN_DIR / "spark-submit"),
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            str(PROJECT_DIR / "ops" / "spark_score.py"),
            str(source),
            str(target),
        ],
        env={
            **os.environ,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": str(BIN_DIR / "python"),
            "PYSPARK_DRIVER_PYTHON": str(BIN_DIR / "python"),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    print(result.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in target.iterdir() if p.is_dir()) == [
        "part=a",
        "part=b",
    ]
    scored = pd.read_parquet(target).sort_values("id").reset_index(drop=True)
    assert len(scored) == ROWS
    pipeline = load_pipeline(bentoml.models.get(trained_model))
    expected, counts = score_table(
        frame, "text", scorer(pipeline), [str(c) for c in pipeline.classes_]
    )
    assert counts.rejected == 3
    assert list(scored["label"]) == list(expected["label"])
    assert list(scored["rejected"]) == list(expected["rejected"])
    np.testing.assert_allclose(scored["score"], expected["score"], rtol=0, atol=1e-12)
    assert list(scored["part"].astype(str)) == list(frame["part"])

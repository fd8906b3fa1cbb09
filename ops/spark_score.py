"""Score a parquet dataset with PySpark, with the same model from the BentoML store.

Usage (unchanged between one machine and a cluster):

    spark-submit --master local[2] ops/spark_score.py INPUT OUTPUT
    spark-submit --master spark://HOST:7077 ops/spark_score.py INPUT OUTPUT
    spark-submit --master yarn --deploy-mode client ops/spark_score.py INPUT OUTPUT

Options: ``--text-column text``, ``--model TAG`` (default: production),
``--partition-by COL[,COL]`` (default: the ``key=value`` directories of a local
INPUT), ``--overwrite``.

The driver loads the model from its BentoML store once and broadcasts it; the
``sentiment`` package travels to the executors as a zip (``addPyFile``), so
executors need Python with the serving requirements and pyarrow, not the model
store. Scoring runs in ``mapInPandas`` over Arrow batches of 10,000 rows, and
writes INPUT's columns plus ``label``, ``score`` and ``rejected``, partitioned like
INPUT.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
ARROW_BATCH_ROWS = 10_000
HIVE_DIR = re.compile(r"[^=]+=.*")  # a partition directory: column=value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", help="parquet file or directory (any Spark URI)")
    parser.add_argument("output", help="parquet directory to write")
    parser.add_argument("--text-column", default="text")
    parser.add_argument(
        "--model", help="default: the production model, else the newest"
    )
    parser.add_argument(
        "--partition-by", default=None, help="COL[,COL] (default: as INPUT)"
    )
    parser.add_argument("--overwrite", action="store_true")
    return parser.parse_args(argv)


def partition_columns(path: str) -> list[str]:
    """Hive-style ``key=value`` directory levels of a local dataset, outermost first."""
    root = Path(path)
    columns: list[str] = []
    while root.is_dir():
        named = [
            d
            for d in root.iterdir()
            if d.is_dir() and re.fullmatch(r"[^=]+=.*", d.name)
        ]
        if not named:
            break
        columns.append(named[0].name.split("=", 1)[0])
        root = named[0]
    return columns


def package_zip(work: Path) -> Path:
    """The ``sentiment`` package as a zip for ``SparkContext.addPyFile``."""
    archive = work / "sentiment.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for source in (PROJECT_DIR / "sentiment").rglob("*.py"):
            zipped.write(source, source.relative_to(PROJECT_DIR))
    return archive


def load_model(tag: str) -> tuple[Any, list[str]]:
    """The stored pipeline, checked like the service checks it, and its labels.

    The labels are the metadata's, in ``classes_`` order, as the service serves
    them (an imported model may name its 0/1 classes).
    """
    from sentiment.model.artifact import StoreModel, load_pipeline, read_metadata

    checked = StoreModel(tag).checked()
    return load_pipeline(checked), list(read_metadata(checked).labels)


def score_batches(broadcast: Any, text_column: str) -> Any:
    """The ``mapInPandas`` function: score each Arrow batch with the broadcast model."""

    def score(batches: Iterator[Any]) -> Iterator[Any]:
        from sentiment.jobs.scoring import score_chunk
        from sentiment.model.scorer import scorer

        pipeline, classes = broadcast.value
        predict = scorer(pipeline)
        for batch in batches:
            yield score_chunk(batch, text_column, predict, classes)

    return score


def serving_choice(configured: str | None, name: str) -> Any:
    """The registry's choice (imported late, like the rest of the package here)."""
    from sentiment.lifecycle.registry import serving_choice as choose

    return choose(configured, name)


def main(argv: list[str] | None = None) -> int:
    """Run the job; 0 on success, 2 on bad input."""
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    args = parse_args(argv)
    spark = (
        SparkSession.builder.appName("sentiment-score")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", ARROW_BATCH_ROWS)
        .getOrCreate()
    )
    try:
        with tempfile.TemporaryDirectory() as work:
            spark.sparkContext.addPyFile(str(package_zip(Path(work))))
            frame = spark.read.parquet(args.input)
            if args.text_column not in frame.columns:
                print(
                    f"spark_score.py: error: no column {args.text_column!r} in "
                    f"{args.input} (found: {', '.join(frame.columns)})",
                    file=sys.stderr,
                )
                return 2
            started = time.perf_counter()
            model = spark.sparkContext.broadcast(
                load_model(args.model or serving_choice(None, "sentiment").tag)
            )
            schema = StructType(
                [
                    *frame.schema.fields,
                    StructField("label", StringType()),
                    StructField("score", DoubleType()),
                    StructField("rejected", StringType()),
                ]
            )
            scored = frame.mapInPandas(score_batches(model, args.text_column), schema)
            if args.partition_by:
                partitions = args.partition_by.split(",")
            else:
                partitions = partition_columns(args.input)
            writer = scored.write.mode(
                "overwrite" if args.overwrite else "errorifexists"
            )
            writer.partitionBy(*partitions).parquet(args.output)
            seconds = time.perf_counter() - started
            rows = spark.read.parquet(args.output).count()
    finally:
        spark.stop()
    print(
        f"scored {rows:,} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s), "
        f"partitioned by {partitions or 'nothing'} -> {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT_DIR))  # spark-submit runs this file as a script
    sys.exit(main())

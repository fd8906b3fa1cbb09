"""Score a local CSV, TSV or parquet file with the model from the store, in-process.

Usage:
    python score.py INPUT OUTPUT [--text-column text] [--model sentiment:latest]

Writes INPUT's columns plus ``label``, ``score`` and ``rejected`` (the review rule a
row broke; such rows keep an empty label) to OUTPUT, in input order, in the format
OUTPUT's extension names (.csv, .tsv, .parquet, optionally .gz). Shows a progress
bar and ends with the rows per second. OUTPUT is written to a temporary file and
renamed at the end, so an interrupted run leaves no half file. Bad input is one
line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentiment.scoring import (
    ScoringError,
    file_format,
    read_table,
    score_table,
    write_table,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="CSV, TSV or parquet (optionally .gz)")
    parser.add_argument("output", type=Path, help="where to write the scored table")
    parser.add_argument("--text-column", default="text", help="default: %(default)s")
    parser.add_argument(
        "--model", default="sentiment:latest", help="model store tag (%(default)s)"
    )
    return parser.parse_args(argv)


def load_model(tag: str) -> tuple[Callable[[list[str]], Any], list[str]]:
    """The stored pipeline's fastest predict function and its labels."""
    from sentiment.artifact import StartupError, StoreModel, load_pipeline
    from sentiment.model import scorer

    model = StoreModel(tag)
    try:
        pipeline = load_pipeline(model.checked())
    except StartupError as error:
        raise ScoringError(str(error)) from None
    return scorer(pipeline), [str(label) for label in pipeline.classes_]


def run(args: argparse.Namespace) -> float:
    """Score INPUT into OUTPUT; return rows per second."""
    from rich.progress import Progress

    if not args.input.is_file():
        raise ScoringError(f"input file not found: {args.input}")
    out_format = file_format(args.output.name)
    frame = read_table(args.input, args.input.name, args.text_column)
    predict_proba, classes = load_model(args.model)
    started = time.perf_counter()
    with Progress(transient=False) as progress:
        task = progress.add_task(f"scoring {args.input.name}", total=len(frame))
        scored, counts = score_table(
            frame,
            args.text_column,
            predict_proba,
            classes,
            progress=lambda n: progress.advance(task, n),
        )
    seconds = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.output.parent, prefix=f".{args.output.name}.")
    os.close(fd)
    try:
        gzipped = args.output.name.lower().endswith(".gz")
        write_table(scored, Path(tmp), out_format, gzipped)
        os.replace(tmp, args.output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    rate = counts.rows / seconds if seconds else float("inf")
    print(
        f"scored {counts.scored:,} rows, rejected {counts.rejected:,} by review rules, "
        f"in {seconds:.1f}s: {rate:,.0f} rows/s -> {args.output}"
    )
    return rate


def main(argv: list[str] | None = None) -> int:
    """Run from the command line: 0 on success, 2 on bad input."""
    args = parse_args(argv)
    try:
        run(args)
    except ScoringError as error:
        print(f"score.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

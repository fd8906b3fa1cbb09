"""Score a CSV, TSV or parquet file: in-process, or as a job on a running service.

Usage:
    python score.py INPUT OUTPUT [--text-column text] [--model TAG]
    python score.py INPUT OUTPUT --remote http://localhost:3000 [--api-key KEY]

With ``--remote`` the file is submitted to the service's ``/classify_file`` job
and the progress bar follows the job's counts (``done`` of ``total`` rows in
``/classify_file/status``); the result is the service's CSV (OUTPUT must be .csv).
``--api-key`` defaults to the ``SENTIMENT_API_KEY`` env var (or ``API_KEY``).

Writes INPUT's columns plus ``label``, ``score`` and ``rejected`` (the review rule a
row broke; such rows keep an empty label) to OUTPUT, in input order, in the format
OUTPUT's extension names (.csv, .tsv, .parquet, optionally .gz); in CSV and TSV a
text cell a spreadsheet would run as a formula gets a leading ``'`` unless
``--raw-cells``. Shows a progress
bar and ends with the rows per second. OUTPUT is written to a temporary file and
renamed at the end, so an interrupted run leaves no half file. Bad input is one
line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentiment.errors import ScoringError
from sentiment.files import write_atomically
from sentiment.jobs.scoring import score_table
from sentiment.jobs.tables import (
    file_format,
    read_table,
    spreadsheet_safe,
    write_table,
)
from sentiment.lifecycle.registry import serving_choice


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="CSV, TSV or parquet (optionally .gz)")
    parser.add_argument("output", type=Path, help="where to write the scored table")
    parser.add_argument("--text-column", default="text", help="default: %(default)s")
    parser.add_argument(
        "--model",
        help="model store tag (default: the production model, else the newest)",
    )
    parser.add_argument(
        "--remote", metavar="URL", help="score as a job on the service at URL"
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("SENTIMENT_API_KEY") or os.environ.get("API_KEY", ""),
        help="the service's API key (default: $SENTIMENT_API_KEY, else $API_KEY)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3600, help="give up after (s, %(default)s)"
    )
    parser.add_argument(
        "--raw-cells",
        action="store_true",
        help="write CSV/TSV cells as they are; by default a text cell starting with "
        "= + - @ tab or CR gets a leading ' so a spreadsheet does not run it",
    )
    return parser.parse_args(argv)


def load_model(tag: str) -> tuple[Callable[[list[str]], Any], list[str]]:
    """The stored pipeline's fastest predict function and its labels."""
    from sentiment.errors import StartupError
    from sentiment.model.artifact import StoreModel, load_pipeline, read_metadata
    from sentiment.model.scorer import scorer

    model = StoreModel(tag)
    try:
        checked = model.checked()
        pipeline = load_pipeline(checked)
    except StartupError as error:
        raise ScoringError(str(error)) from None
    # The served labels, in classes_ order: an import may name 0/1 classes.
    return scorer(pipeline), list(read_metadata(checked).labels)


def run(args: argparse.Namespace) -> float:
    """Score INPUT into OUTPUT; return rows per second."""
    from rich.progress import Progress

    if not args.input.is_file():
        raise ScoringError(f"input file not found: {args.input}")
    out_format = file_format(args.output.name)
    frame = read_table(args.input, args.input.name, args.text_column)
    tag = args.model or serving_choice(None, "sentiment").tag
    predict_proba, classes = load_model(tag)
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
    if out_format != "parquet" and not args.raw_cells:
        scored = spreadsheet_safe(scored)
    gzipped = args.output.name.lower().endswith(".gz")
    write_atomically(
        args.output, lambda tmp: write_table(scored, tmp, out_format, gzipped)
    )
    rate = counts.rows / seconds if seconds else float("inf")
    print(
        f"scored {counts.scored:,} rows, rejected {counts.rejected:,} by review rules, "
        f"in {seconds:.1f}s: {rate:,.0f} rows/s -> {args.output}"
    )
    return rate


def run_remote(args: argparse.Namespace) -> float:
    """Submit INPUT to the service's file job, follow it, write its CSV to OUTPUT."""
    import httpx

    if not args.input.is_file():
        raise ScoringError(f"input file not found: {args.input}")
    if not args.output.name.lower().endswith(".csv"):
        raise ScoringError(f"--remote writes CSV: name OUTPUT .csv, not {args.output}")
    base = args.remote.rstrip("/")
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            with args.input.open("rb") as handle:
                submitted = client.post(
                    "/classify_file/submit",
                    files={"file": (args.input.name, handle)},
                    data={"text_column": args.text_column},
                )
            if submitted.status_code != 200:
                raise ScoringError(
                    f"the service refused the file ({submitted.status_code}): "
                    f"{submitted.text[:300]}"
                )
            task_id = submitted.json()["task_id"]
            status = follow_job(client, task_id, args)
            if status.get("status") != "completed":
                raise ScoringError(
                    f"job {task_id} {status.get('status')}: "
                    f"{status.get('error', 'no reason given')}"
                )
            result = client.get("/classify_file/get", params={"task_id": task_id})
            result.raise_for_status()
    except httpx.HTTPError as error:
        raise ScoringError(f"cannot reach {base}: {error}") from None
    write_atomically(args.output, lambda tmp: tmp.write_bytes(result.content))
    seconds = time.perf_counter() - started
    rows, scored = int(status.get("rows", 0)), int(status.get("scored", 0))
    rejected = int(status.get("rejected", 0))
    print(
        f"scored {scored:,} rows, rejected {rejected:,} by review rules, "
        f"on {base} in {seconds:.1f}s -> {args.output}"
    )
    return rows / seconds if seconds else float("inf")


def follow_job(client: Any, task_id: str, args: argparse.Namespace) -> dict[str, Any]:
    """Poll the job's status with a progress bar until it ends; its last status."""
    from rich.progress import Progress

    deadline = time.monotonic() + args.timeout
    with Progress(transient=False) as progress:
        bar = progress.add_task(f"scoring {args.input.name} remotely", total=None)
        while True:
            status: dict[str, Any] = client.get(
                "/classify_file/status", params={"task_id": task_id}
            ).json()
            if status.get("total") is not None:
                progress.update(
                    bar, total=status["total"], completed=status.get("done", 0)
                )
            if status.get("status") != "in_progress":
                if status.get("rows") is not None:
                    progress.update(bar, total=status["rows"], completed=status["rows"])
                return status
            if time.monotonic() > deadline:
                raise ScoringError(f"job {task_id} still running after {args.timeout}s")
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    """Run from the command line: 0 on success, 2 on bad input."""
    args = parse_args(argv)
    try:
        run_remote(args) if args.remote else run(args)
    except ScoringError as error:
        print(f"score.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

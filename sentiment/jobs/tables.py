"""Read and write the tables ``score.py`` and ``/classify_file`` score.

CSV, TSV or parquet, gzipped or not, read under caps (bytes once decompressed,
rows, columns) that stop the read at the cap; written back in the format the
output's name asks for, with cells a spreadsheet would run escaped.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from sentiment.errors import LimitExceeded, ScoringError

READ_CHUNK_ROWS = 65_536  # rows per parsing step: a row cap stops within one step
PARQUET_BATCH_ROWS = 4096  # rows decoded at once: 20 MB at 5,000 characters a row
MAX_HEADER_BYTES = 1 << 20
# OWASP "CSV Injection": a cell starting with one of these runs as a formula
# when a spreadsheet opens the file.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def file_format(name: str) -> str:
    """``csv``, ``tsv`` or ``parquet`` from a file name (``.gz`` allowed).

    Raises:
        ScoringError: another extension.
    """
    suffixes = [s.lower() for s in Path(name).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = suffixes[-1].lstrip(".") if suffixes else ""
    if fmt not in ("csv", "tsv", "parquet"):
        raise ScoringError(
            f"{name!r}: expected a .csv, .tsv or .parquet file (optionally .gz)"
        )
    return fmt


@dataclass(frozen=True)
class ReadLimits:
    """Caps on what reading a table may take (None: no cap).

    A file's size says little about what it holds: 1.2 MB of gzip inflated to
    600 MB and 52 million rows took a worker to 2 GiB. Both caps are checked while
    reading, so reading stops at the cap.
    """

    max_bytes: int | None = None  # after decompression
    max_rows: int | None = None
    max_columns: int | None = None


class CappedReader(io.RawIOBase):
    """A binary stream that fails once more than ``limit`` bytes were read."""

    def __init__(self, stream: BinaryIO, limit: int | None, name: str) -> None:
        self.stream = stream
        self.limit = limit
        self.name = name
        self.count = 0

    def readable(self) -> bool:
        """Always."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer``, counting.

        Raises:
            LimitExceeded: past the cap.
        """
        data = self.stream.read(len(buffer))
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise LimitExceeded(
                f"{self.name!r} holds more than {self.limit} bytes once "
                "decompressed (SENTIMENT_MAX_INFLATED_BYTES)"
            )
        buffer[: len(data)] = data
        return len(data)


def read_table(
    source: Path | bytes,
    name: str,
    text_column: str,
    limits: ReadLimits | None = None,
) -> pd.DataFrame:
    """Read a CSV, TSV or parquet table and check its text column.

    Args:
        source: a path, or the file's bytes (an upload).
        name: the file name, whose extension says the format.
        text_column: the column holding the reviews.
        limits: caps on inflated size and rows (default: none).

    Raises:
        ScoringError: unreadable, not what its name claims, empty, no such column,
            or past a limit.
    """
    fmt = file_format(name)
    limits = limits or ReadLimits()
    raw: BinaryIO = (
        io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
    )
    try:
        stream: BinaryIO = raw
        if name.lower().endswith(".gz"):
            stream = gzip.GzipFile(fileobj=raw)  # type: ignore[assignment]
        capped = io.BufferedReader(CappedReader(stream, limits.max_bytes, name))
        if fmt == "parquet":
            frame = _read_parquet(capped, name, limits)
        else:
            frame = _read_delimited(capped, "\t" if fmt == "tsv" else ",", name, limits)
    except LimitExceeded:
        raise
    except pd.errors.EmptyDataError:
        raise ScoringError(f"{name!r} is empty") from None
    except Exception as exc:  # pandas, pyarrow and gzip raise many types for bad files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ScoringError(f"{name!r} is not a readable {fmt} file: {first}") from None
    finally:
        raw.close()
    if text_column not in frame.columns:
        found = ", ".join(map(str, frame.columns[:10]))
        raise ScoringError(f"{name!r} has no column {text_column!r} (found: {found})")
    if frame.empty:
        raise ScoringError(f"{name!r} has no rows")
    return frame


def _too_many_rows(name: str, limit: int) -> LimitExceeded:
    return LimitExceeded(f"{name!r} has more than {limit} rows (SENTIMENT_MAX_ROWS)")


def _read_delimited(
    stream: BinaryIO, sep: str, name: str, limits: ReadLimits
) -> pd.DataFrame:
    """CSV or TSV in chunks, so a row cap stops reading at the cap.

    The header is read first, so a file with too many columns is refused before
    pandas builds them (each costs about 2.7 KB: one 3 MB row of 300,000 columns
    took a worker from 342 MB to 1 GB).
    """
    header = stream.readline(MAX_HEADER_BYTES)
    if not header.strip():
        raise pd.errors.EmptyDataError
    if not header.endswith(b"\n") and len(header) >= MAX_HEADER_BYTES:
        _check_columns(header.split(sep.encode()), name, limits)  # the likely cause
        raise LimitExceeded(f"{name!r} has a header over {MAX_HEADER_BYTES} bytes")
    columns = next(
        csv.reader([header.decode("utf-8-sig").rstrip("\r\n")], delimiter=sep)
    )
    _check_columns(columns, name, limits)
    parts: list[pd.DataFrame] = []
    rows = 0
    with pd.read_csv(
        stream,
        sep=sep,
        header=None,
        names=columns,
        keep_default_na=False,
        chunksize=READ_CHUNK_ROWS,
    ) as reader:
        for part in reader:
            rows += len(part)
            if limits.max_rows is not None and rows > limits.max_rows:
                raise _too_many_rows(name, limits.max_rows)
            parts.append(part)
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _check_columns(
    columns: Sequence[str | bytes], name: str, limits: ReadLimits
) -> None:
    if limits.max_columns is not None and len(columns) > limits.max_columns:
        raise LimitExceeded(
            f"{name!r} has more than {limits.max_columns} columns "
            "(SENTIMENT_MAX_COLUMNS)"
        )
    seen = set()
    for column in columns:
        if column in seen:
            raise ScoringError(f"{name!r} has two columns named {column[:50]!r}")
        seen.add(column)


def _read_parquet(stream: BinaryIO, name: str, limits: ReadLimits) -> pd.DataFrame:
    """Parquet, its rows and columns checked from its metadata, its size as read.

    The footer's sizes are the writer's word: a 305-byte file of one
    dictionary-encoded string claimed 5 KB and expanded to 518 MB. So batches of
    :data:`PARQUET_BATCH_ROWS` rows are counted as they are decoded.
    """
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    # Parquet needs to seek: the (already capped) bytes are read whole.
    parquet = pq.ParquetFile(io.BytesIO(stream.read()))
    meta = parquet.metadata
    if limits.max_rows is not None and meta.num_rows > limits.max_rows:
        raise _too_many_rows(name, limits.max_rows)
    _check_columns([str(c) for c in parquet.schema_arrow.names], name, limits)
    batches = []
    size = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        size += batch.nbytes
        if limits.max_bytes is not None and size > limits.max_bytes:
            raise LimitExceeded(
                f"{name!r} holds more than {limits.max_bytes} bytes once decoded "
                "(SENTIMENT_MAX_INFLATED_BYTES)"
            )
        batches.append(batch)
    table = (
        pa.Table.from_batches(batches)
        if batches
        else parquet.schema_arrow.empty_table()
    )
    frame: pd.DataFrame = table.to_pandas()
    return frame


def write_table(frame: pd.DataFrame, path: Path, fmt: str, gzipped: bool) -> None:
    """Write the scored table in the format its name asks for."""
    if fmt == "parquet":
        if not gzipped:
            frame.to_parquet(path, index=False)
            return
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        path.write_bytes(gzip.compress(buffer.getvalue()))
        return
    frame.to_csv(
        path,
        sep="\t" if fmt == "tsv" else ",",
        index=False,
        compression="gzip" if gzipped else None,
    )


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell a spreadsheet would run prefixed by ``'``.

    OWASP's advice for CSV meant to be opened by people; machine consumers who
    want the raw cells turn it off (``SENTIMENT_CSV_ESCAPE=0``, ``score.py
    --raw-cells``). Column names are cells too; numbers are left alone.
    """
    out = frame.copy()
    out.columns = [safe_cell(c) if isinstance(c, str) else c for c in out.columns]
    for index in range(out.shape[1]):
        values = out.iloc[:, index]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        elif not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        risky = values.map(
            lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS)
        ).astype(bool)
        if risky.any():
            escaped = values.where(~risky, "'" + values.astype(str))
            out.isetitem(index, escaped.to_numpy(dtype=object))
    return out


def safe_cell(value: str) -> str:
    """One text cell, prefixed by ``'`` when a spreadsheet would run it."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value

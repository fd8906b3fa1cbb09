"""Unit tests for sentiment.jobs.tables: formats, read caps, spreadsheet-safe cells."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from sentiment.errors import LimitExceeded, ScoringError
from sentiment.jobs.tables import (
    ReadLimits,
    file_format,
    read_table,
    spreadsheet_safe,
    write_table,
)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("a.TSV.gz", "tsv"), ("a.parquet", "parquet")],
)
def test_formats_by_extension(name: str, fmt: str) -> None:
    assert file_format(name) == fmt


def test_other_extensions_are_refused() -> None:
    with pytest.raises(ScoringError, match="expected a .csv, .tsv or .parquet"):
        file_format("reviews.xlsx")


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "r.csv", "is empty"),
        (b"text\n", "r.csv", "has no rows"),
        (b"review\nfine film\n", "r.csv", "has no column 'text'"),
        (b"PK\x03\x04 not parquet", "r.parquet", "is not a readable parquet file"),
        (b"not gzip", "r.csv.gz", "is not a readable csv file"),
    ],
)
def test_bad_files_are_one_line_errors(content: bytes, name: str, message: str) -> None:
    with pytest.raises(ScoringError, match=message) as info:
        read_table(content, name, "text")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["o.csv", "o.tsv.gz", "o.parquet", "o.parquet.gz"])
def test_written_tables_read_back(tmp_path: Path, name: str) -> None:
    frame = pd.DataFrame({"text": ["a good film"], "label": ["positive"]})
    path = tmp_path / name
    write_table(frame, path, file_format(name), name.endswith(".gz"))
    back = read_table(path.read_bytes(), name, "text")
    assert back.to_dict("list") == frame.to_dict("list")


def test_gzipped_csv_upload_reads() -> None:
    content = gzip.compress(b"text,id\na good film,7\n")
    assert read_table(content, "r.csv.gz", "text")["id"].tolist() == [7]


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_row_cap_stops_reading(gzipped: bool) -> None:
    content = b"text\n" + b"a fine film\n" * 300_000
    name = "r.csv.gz" if gzipped else "r.csv"
    source = gzip.compress(content) if gzipped else content
    with pytest.raises(
        LimitExceeded, match="more than 100000 rows.*SENTIMENT_MAX_ROWS"
    ):
        read_table(source, name, "text", ReadLimits(max_rows=100_000))
    assert (
        len(read_table(source, name, "text", ReadLimits(max_rows=300_000))) == 300_000
    )


def test_an_inflated_size_cap_stops_a_gzip_bomb() -> None:
    bomb = gzip.compress(b"text\n" + b"x" * 50_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(LimitExceeded, match="SENTIMENT_MAX_INFLATED_BYTES"):
        read_table(bomb, "b.csv.gz", "text", ReadLimits(max_bytes=1_000_000))


def test_parquet_limits_are_read_from_its_metadata(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    pd.DataFrame({"text": ["a fine film"] * 5000}).to_parquet(path)
    with pytest.raises(LimitExceeded, match="SENTIMENT_MAX_ROWS"):
        read_table(path, path.name, "text", ReadLimits(max_rows=4999))
    with pytest.raises(LimitExceeded, match="SENTIMENT_MAX_INFLATED_BYTES"):
        read_table(path, path.name, "text", ReadLimits(max_bytes=1000))
    assert len(read_table(path, path.name, "text", ReadLimits(5_000_000, 5000))) == 5000


def test_formula_cells_are_escaped_numbers_are_not() -> None:
    frame = pd.DataFrame(
        {
            "text": ["=1+1", "+a", "-b", "@c", "\td", "\re", "plain", "it's =fine"],
            "n": [-1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    safe = spreadsheet_safe(frame)
    assert list(safe["text"]) == [
        "'=1+1",
        "'+a",
        "'-b",
        "'@c",
        "'\td",
        "'\re",
        "plain",
        "it's =fine",
    ]
    assert list(safe["n"]) == list(frame["n"])
    assert frame["text"][0] == "=1+1"  # the input is left as it was


def test_a_wide_header_is_refused_before_pandas_builds_columns() -> None:
    wide = (",".join(f"c{i}" for i in range(5000)) + "\n").encode() + b"x\n"
    with pytest.raises(
        LimitExceeded, match="more than 100 columns.*SENTIMENT_MAX_COLUMNS"
    ):
        read_table(wide, "w.csv", "c0", ReadLimits(max_columns=100))


def test_duplicate_columns_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScoringError, match="two columns named 'text'"):
        read_table(b"text,text\na,b\n", "d.csv", "text")


def test_a_parquet_dictionary_bomb_is_counted_as_it_decodes(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bomb.parquet"
    table = pa.table({"text": pa.array(["x" * 5000] * 40_000).dictionary_encode()})
    pq.write_table(table, path, store_schema=False)
    assert path.stat().st_size < 100_000
    with pytest.raises(LimitExceeded, match="SENTIMENT_MAX_INFLATED_BYTES"):
        read_table(path, path.name, "text", ReadLimits(max_bytes=50_000_000))


def test_categorical_columns_and_headers_are_escaped_too() -> None:
    frame = pd.DataFrame(
        {"text": ["a fine film", "ok"], "=HYPERLINK(1)": pd.Categorical(["-", "ok"])}
    )
    safe = spreadsheet_safe(frame)
    assert list(safe.columns) == ["text", "'=HYPERLINK(1)"]
    assert list(safe["'=HYPERLINK(1)"]) == ["'-", "ok"]

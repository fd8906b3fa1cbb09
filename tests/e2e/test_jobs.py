"""Background file scoring on a real `bentoml serve`: /classify_file/*."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from devtools.corpus import corpus_reviews
from devtools.servers import bentoml_serve, isolated_home

pytestmark = pytest.mark.e2e


class Server:
    """A server for file jobs and the BentoML home it keeps its tasks in."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.home = home

    def submit(self, content: bytes, name: str, **form: str) -> str:
        r = httpx.post(
            f"{self.url}/classify_file/submit",
            files={"file": (name, content, "application/octet-stream")},
            data=form,
            timeout=60,
        )
        assert r.status_code == 200, r.text
        return str(r.json()["task_id"])

    def status(self, task_id: str) -> dict:
        r = httpx.get(f"{self.url}/classify_file/status", params={"task_id": task_id})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait(self, task_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(task_id)
            if status["status"] != "in_progress":
                return status
            time.sleep(0.2)
        raise TimeoutError(f"task {task_id} still running: {status}")

    def result(self, task_id: str) -> pd.DataFrame:
        r = httpx.get(f"{self.url}/classify_file/get", params={"task_id": task_id})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        return pd.read_csv(io.BytesIO(r.content), keep_default_na=False)


@pytest.fixture(scope="module")
def server(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("jobs")
    home = isolated_home(work)
    env = {"BENTOML_HOME": str(home), "SENTIMENT_MAX_FILE_BYTES": str(40 * 10**6)}
    with bentoml_serve(
        "service:SentimentClassifier", work / "serve.log", env=env
    ) as url:
        yield Server(url, home)


def corpus_frame(rows: int) -> pd.DataFrame:
    texts = list(corpus_reviews())
    texts = (texts * (rows // len(texts) + 1))[:rows]
    texts[1] = "ab"  # a review the API would refuse
    return pd.DataFrame({"row": range(rows), "review": texts})


def test_a_csv_job_scores_every_row_in_order(server: Server) -> None:
    frame = corpus_frame(3000)
    task = server.submit(
        frame.to_csv(index=False).encode(), "reviews.csv", text_column="review"
    )
    status = server.wait(task)
    assert status["status"] == "completed", status
    assert (status["rows"], status["scored"], status["rejected"]) == (3000, 2999, 1)
    scored = server.result(task)
    assert list(scored["row"]) == list(range(3000))
    assert list(scored.columns) == ["row", "review", "label", "score", "rejected"]
    assert (
        scored.loc[1, "rejected"] == "review_too_short" and scored.loc[1, "label"] == ""
    )
    assert set(scored.loc[scored["rejected"] == "", "label"]) == {
        "positive",
        "negative",
    }
    sample = list(scored["review"][2:7])  # row 1 is the refused one
    online = httpx.post(f"{server.url}/classify", json={"texts": sample}).json()
    assert list(scored["label"][2:7]) == [p["label"] for p in online]


def test_gzipped_parquet_and_two_jobs_at_once(server: Server) -> None:
    import gzip

    frame = corpus_frame(20_000).rename(columns={"review": "text"})
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    parquet_gz = gzip.compress(buffer.getvalue())
    first = server.submit(parquet_gz, "reviews.parquet.gz")
    second = server.submit(frame.to_csv(index=False).encode(), "reviews.csv")
    results = [server.wait(first), server.wait(second)]
    assert [r["status"] for r in results] == ["completed", "completed"]
    assert [r["rows"] for r in results] == [20_000, 20_000]


@pytest.mark.parametrize(
    ("content", "name", "words"),
    [
        (b"PAR1 this is not parquet", "reviews.parquet", "not a readable parquet file"),
        (b"id,review\n1,a fine film\n", "reviews.csv", "has no column 'text'"),
        (b"", "reviews.csv", "is empty"),
        (b"text\n", "reviews.csv", "has no rows"),
        (b"text\nfine\n", "reviews.xlsx", "expected a .csv, .tsv or .parquet"),
    ],
)
def test_bad_files_fail_with_one_line(
    server: Server, content: bytes, name: str, words: str
) -> None:
    status = server.wait(server.submit(content, name))
    assert status["status"] == "failed"
    assert words in status["error"] and "\n" not in status["error"]


def test_status_is_the_same_from_every_worker(server: Server) -> None:
    task = server.submit(b"text\na wonderful film\n", "one.csv")
    server.wait(task)
    answers = {json.dumps(server.status(task), sort_keys=True) for _ in range(30)}
    assert len(answers) == 1, answers


def test_oversized_upload_is_refused_with_413(server: Server) -> None:
    r = httpx.post(
        f"{server.url}/classify_file/submit",
        files={"file": ("big.csv", b"text\n" + b"a fine film\n" * 4_000_000)},
        timeout=60,
    )
    assert r.status_code == 413
    assert r.json()["detail"][0]["type"] == "file_too_large"


def test_a_worker_killed_mid_job_is_reported_and_can_be_resubmitted(
    server: Server,
) -> None:
    frame = corpus_frame(300_000)
    task = server.submit(
        frame.to_csv(index=False).encode(), "big.csv", text_column="review"
    )
    record = server.home / "sentiment-jobs" / f"{task}.json"
    deadline = time.monotonic() + 60
    while not (record.exists() and json.loads(record.read_text()).get("pid")):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    os.kill(json.loads(record.read_text())["pid"], signal.SIGKILL)
    status = server.wait(task)
    assert status["status"] == "failed"
    assert "worker running this job stopped" in status["error"]
    retry = httpx.post(f"{server.url}/classify_file/retry", params={"task_id": task})
    assert retry.status_code == 400, "BentoML retries only completed tasks"
    content = frame.to_csv(index=False).encode()
    resubmitted = server.submit(content, "big.csv", text_column="review")
    again = server.wait(resubmitted, timeout=300)
    assert again["status"] == "completed" and again["rows"] == 300_000

"""A hostile client against a real `bentoml serve` with an API key set.

Every finding of the hostile-client review is sent as it was found: odd paths,
chunked and compressed uploads, wrong V2 types, formula cells, unknown paths,
the key at rest; then a property-based pass over methods, paths, headers and
bodies. The invariants: never a 5xx, never a 200 without the key on a protected
route, /metrics bounded, the server's memory bounded. The same server answers
gRPC (the Open Inference Protocol): a property-based pass over its infer
messages and metadata, never ``UNKNOWN`` or ``INTERNAL``, never OK without the key.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import io
import json
import os
import socket
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import grpc
import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.rawhttp import raw_request
from devtools.servers import bentoml_serve, free_port, isolated_home
from sentiment.rpc.proto import open_inference_grpc_pb2 as pb
from sentiment.rpc.proto import open_inference_grpc_pb2_grpc as pb_grpc

pytestmark = pytest.mark.e2e

API_KEY = "hostile-" + os.urandom(12).hex()
AUTH = {"Authorization": f"Bearer {API_KEY}"}
MAX_FILE_BYTES = 2 * 10**6
MAX_ROWS = 200_000
RSS_LIMIT = 1536 << 20
PROTECTED = (
    "/classify",
    "/explain",
    "/v2/models/sentiment/infer",
    "/classify_file",
    "/classify_file/submit",
    "/classify_file/status",
    "/classify_file/get",
    "/classify_file/retry",
    "/classify_file/cancel",
)
OPEN_GETS = (
    "/",
    "/livez",
    "/readyz",
    "/healthz",
    "/metrics",
    "/model-info",
    "/ui",
    "/docs.json",
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/sentiment",
)
REVIEW = {"texts": ["a wonderful, moving film"]}
INFER = {
    "inputs": [
        {"name": "text", "datatype": "BYTES", "shape": [1], "data": ["a fine film"]}
    ]
}


@dataclass
class Hostile:
    """The server under attack: its URL, port, home and log."""

    url: str
    port: int
    home: Path
    log: Path
    grpc_port: int

    def post(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", timeout=60, **kwargs)  # type: ignore[arg-type]

    def submit(
        self, content: bytes, name: str, busy_ok: bool = False, **form: str
    ) -> httpx.Response:
        """Submit a file; a 429 is waited out (up to 60 s) unless ``busy_ok``.

        The one job slot of the server is held until BentoML's call for the
        previous job returns, a moment after its status reads completed.
        """
        deadline = time.monotonic() + 60
        while True:
            response = self.post(
                "/classify_file/submit",
                files={"file": (name, content, "application/octet-stream")},
                data=form,
                headers=AUTH,
            )
            if busy_ok or response.status_code != 429 or time.monotonic() > deadline:
                return response
            time.sleep(0.2)

    def status(self, task_id: str) -> dict:
        return dict(
            httpx.get(
                f"{self.url}/classify_file/status",
                params={"task_id": task_id},
                headers=AUTH,
            ).json()
        )

    def wait(self, task_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(task_id)
            if status["status"] != "in_progress":
                return status
            time.sleep(0.25)
        raise TimeoutError(f"task {task_id} still running")

    def worker_rss(self) -> list[int]:
        """Resident memory of each process serving on this port (bytes)."""
        sizes = []
        for pid in listening_pids(self.port):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) * 1024)
        return sizes

    def metrics_lines(self) -> int:
        return len(httpx.get(f"{self.url}/metrics").text.splitlines())

    def classify_ok(self) -> bool:
        r = self.post("/classify", json=REVIEW, headers=AUTH)
        return r.status_code == 200


def listening_pids(port: int) -> list[int]:
    """The processes holding the socket listening on ``port``: arbiter and workers."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1].endswith(f":{port:04X}") and parts[3] == "0A":
            inodes.add(f"socket:[{parts[9]}]")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.fixture(scope="module")
def hostile(
    trained_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hostile]:
    work = tmp_path_factory.mktemp("hostile")
    home = isolated_home(work)
    log = work / "serve.log"
    grpc_port = free_port()
    env = {
        "SENTIMENT_GRPC_PORT": str(grpc_port),
        "BENTOML_HOME": str(home),
        "API_KEY": API_KEY,
        "SENTIMENT_WORKERS": "1",  # the per-worker job cap is then the server's
        "SENTIMENT_MAX_FILE_BYTES": str(MAX_FILE_BYTES),
        "SENTIMENT_MAX_ROWS": str(MAX_ROWS),
        "SENTIMENT_MAX_JOBS": "1",
    }
    with bentoml_serve("service:SentimentClassifier", log, env=env) as url:
        yield Hostile(url, int(urlsplit(url).port or 0), home, log, grpc_port)


# 1. A newline (or any control character) at the end of a path.
@pytest.mark.parametrize("path", PROTECTED[:3])
@pytest.mark.parametrize("suffix", ["%0A", "%0D", "%0D%0A", "%00", "%09", "/", "%20"])
def test_odd_paths_never_reach_the_model(
    hostile: Hostile, path: str, suffix: str
) -> None:
    body = INFER if path.startswith("/v2") else REVIEW
    for headers in ({}, AUTH):
        r = hostile.post(path + suffix, json=body, headers=headers)
        assert r.status_code in (400, 404), (path + suffix, r.status_code, r.text)
        assert r.json()["detail"][0]["type"] in ("bad_path", "no_such_route")
    assert hostile.post(path, json=body).status_code == 401
    assert hostile.post(path, json=body, headers=AUTH).status_code == 200


# 2. An upload over the cap, chunked or with its length, sent whole before reading.
@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_an_upload_over_the_cap_gets_a_413_the_client_reads(
    hostile: Hostile, chunked: bool
) -> None:
    """As Python's http.client (and curl, requests) do: the whole body, then read.

    A refusal that closed the socket with the body still arriving reset the
    connection: the client saw ConnectionResetError, never the 413.
    """
    head = (
        b'--hostile\r\nContent-Disposition: form-data; name="file"; '
        b'filename="big.csv"\r\n\r\ntext\n'
    )
    rows = [b"a fine film indeed\n" * 5000] * 63  # 6 MB, three times the cap
    parts = [head, *rows, b"\r\n--hostile--\r\n"]
    headers = {
        "Authorization": f"Bearer {API_KEY}",
        "Content-Type": "multipart/form-data; boundary=hostile",
    }
    connection = http.client.HTTPConnection("127.0.0.1", hostile.port, timeout=30)
    try:
        if chunked:
            connection.request(
                "POST",
                "/classify_file/submit",
                iter(parts),
                headers,
                encode_chunked=True,
            )
        else:
            connection.request(
                "POST", "/classify_file/submit", b"".join(parts), headers
            )
        response = connection.getresponse()
        body = json.loads(response.read())
        assert response.status == 413, body
        assert body["detail"][0]["type"] == "file_too_large"
        assert "SENTIMENT_MAX_FILE_BYTES" in body["error"]
        # drained to its end: the same connection serves the next request
        assert response.getheader("Connection") != "close"
        connection.request("GET", "/livez")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert hostile.classify_ok()


def test_a_declared_length_over_the_cap_is_refused_unread(hostile: Hostile) -> None:
    response = raw_request(
        hostile.port,
        b"POST",
        b"/classify_file/submit",
        [
            (b"Authorization", f"Bearer {API_KEY}".encode()),
            (b"Content-Type", b"multipart/form-data; boundary=x"),
            (b"Content-Length", str(50 * MAX_FILE_BYTES).encode()),
        ],
    )
    assert response.status == 413


# 3. A small gzip that inflates to hundreds of megabytes and millions of rows.
def gzip_bomb(rows: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip container
    block = b"a fine film\n" * 100_000
    out = [compressor.compress(b"text\n")]
    for _ in range(rows // 100_000):
        out.append(compressor.compress(block))
    out.append(compressor.flush())
    return b"".join(out)


def test_a_gzip_bomb_fails_clearly_and_memory_stays_bounded(hostile: Hostile) -> None:
    bomb = gzip_bomb(50_000_000)  # 600 MB inflated
    assert len(bomb) < MAX_FILE_BYTES
    submitted = hostile.submit(bomb, "bomb.csv.gz")
    assert submitted.status_code == 200, submitted.text
    task_id = submitted.json()["task_id"]
    deadline = time.monotonic() + 120
    peak = 0
    while time.monotonic() < deadline:
        peak = max([peak, *hostile.worker_rss()])
        assert hostile.classify_ok()
        status = hostile.status(task_id)
        if status["status"] != "in_progress":
            break
        time.sleep(0.2)
    assert status["status"] == "failed", status
    assert "SENTIMENT_MAX_ROWS" in status["error"], status
    assert peak < RSS_LIMIT, f"a worker reached {peak >> 20} MiB"
    result = httpx.get(
        f"{hostile.url}/classify_file/get", params={"task_id": task_id}, headers=AUTH
    )
    assert 400 <= result.status_code < 500, result.text


def test_an_inflated_size_cap_holds_for_long_rows(hostile: Hostile) -> None:
    long_rows = b"text\n" + (b"x" * 4000 + b"\n") * 60_000  # 240 MB, few rows
    bomb = gzip.compress(long_rows, 9)
    task_id = hostile.submit(bomb, "long.csv.gz").json()["task_id"]
    status = hostile.wait(task_id)
    assert status["status"] == "failed"
    assert "SENTIMENT_MAX_INFLATED_BYTES" in status["error"], status


# 4. Wrong types in V2 requests: each a 400 naming the field.
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**INFER, "outputs": 5}, "outputs"),
        ({"inputs": [{**INFER["inputs"][0], "parameters": 5}]}, "parameters"),
        ({"inputs": "texts"}, "inputs"),
        ({"inputs": [{**INFER["inputs"][0], "shape": ["1"]}]}, "shape"),
        ({"inputs": [{**INFER["inputs"][0], "datatype": 5}]}, "datatype"),
        ({**INFER, "id": {"a": 1}}, "id"),
        ({**INFER, "outputs": [{"name": 5}]}, "outputs"),
        ({**INFER, "outputs": [5]}, "outputs"),
        ([1, 2], "JSON object"),
    ],
)
def test_v2_wrong_types_are_400_naming_the_field(
    hostile: Hostile, body: object, field: str
) -> None:
    r = hostile.post("/v2/models/sentiment/infer", json=body, headers=AUTH)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]


@pytest.mark.parametrize(
    "path", ["/v2/models/sentiment/infer", "/classify", "/explain"]
)
def test_deep_nesting_is_a_400(hostile: Hostile, path: str) -> None:
    deep = b"[" * 3000 + b"]" * 3000
    for body in (b'{"inputs": ' + deep + b"}", b'{"texts": ' + deep + b"}", deep):
        r = hostile.post(
            path, content=body, headers={**AUTH, "Content-Type": "application/json"}
        )
        assert r.status_code == 400, (path, r.status_code, r.text[:200])


# 5. Formula cells in a job's result.
def test_job_results_are_spreadsheet_safe(hostile: Hostile) -> None:
    cells = ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tTAB", "plain"]
    frame = pd.DataFrame(
        {"text": [f"{c} a wonderful film" for c in cells], "note": cells}
    )
    task_id = hostile.submit(frame.to_csv(index=False).encode(), "f.csv").json()[
        "task_id"
    ]
    assert hostile.wait(task_id)["status"] == "completed"
    result = httpx.get(
        f"{hostile.url}/classify_file/get", params={"task_id": task_id}, headers=AUTH
    )
    scored = pd.read_csv(io.BytesIO(result.content), keep_default_na=False)
    assert list(scored["note"]) == [*(f"'{c}" for c in cells[:-1]), "plain"]
    assert scored["text"][0] == "'=1+1 a wonderful film"
    assert list(scored["label"]) == ["positive"] * len(cells)


# 6. Unknown paths must not create metric series.
def test_unknown_paths_do_not_grow_metrics(hostile: Hostile) -> None:
    httpx.get(f"{hostile.url}/warm-up-unknown")
    before = hostile.metrics_lines()
    for i in range(300):
        assert httpx.get(f"{hostile.url}/probe-{i}").status_code == 404
    assert hostile.metrics_lines() == before


# 7. The key must never reach a file.
def encodings_of(secret: str) -> list[bytes]:
    raw = secret.encode()
    found = [raw]
    for shift in range(3):  # base64 of the secret at any alignment in a stream
        encoded = base64.b64encode(b"\0" * shift + raw)
        found.append(encoded[4 if shift else 0 : -4])
    return found


def test_the_api_key_is_never_stored(hostile: Hostile) -> None:
    content = b"text\na wonderful film\nsuch a dull mess\n"
    task_id = hostile.submit(content, "k.csv").json()["task_id"]
    assert hostile.wait(task_id)["status"] == "completed"
    needles = encodings_of(API_KEY) + encodings_of(f"Bearer {API_KEY}")
    searched = 0
    for path in hostile.home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            searched += 1
            for needle in needles:
                assert needle not in data, f"the key is in {path}"
    for needle in needles:
        assert needle not in hostile.log.read_bytes()
    assert searched > 0


# Also found by reading: the per-request /explain budget, uploads that are not files.
def test_explain_has_a_character_budget(hostile: Hostile) -> None:
    texts = ["a fine film and " * 300] * 32  # 153,600 characters
    r = hostile.post("/explain", json={"texts": texts}, headers=AUTH)
    assert r.status_code == 400
    assert "explain_too_long" in r.text and "SENTIMENT_EXPLAIN_MAX_CHARS" in r.text
    ok = hostile.post("/explain", json={"texts": texts[:1]}, headers=AUTH)
    assert ok.status_code == 200


def test_a_url_instead_of_a_file_is_not_fetched(hostile: Hostile) -> None:
    r = hostile.post(
        "/classify_file/submit",
        files={"text_column": (None, "text")},
        data={"file": "http://127.0.0.1:9/reviews.csv"},
        headers=AUTH,
    )
    assert r.status_code == 400
    assert r.json()["detail"][0]["type"] == "missing_file"


def test_a_json_upload_is_415(hostile: Hostile) -> None:
    r = hostile.post("/classify_file/submit", json={"file": "x"}, headers=AUTH)
    assert r.status_code == 415


def test_a_long_file_name_is_shortened_not_a_500(hostile: Hostile) -> None:
    name = "r" * 300 + ".csv"
    submitted = hostile.submit(b"text\na wonderful film\n", name)
    assert submitted.status_code == 200, submitted.text
    assert hostile.wait(submitted.json()["task_id"])["status"] == "completed"


def test_a_busy_worker_answers_429_with_retry_after(hostile: Hostile) -> None:
    rows = b"text\n" + b"a fine, warm and moving film\n" * 60_000  # 1.7 MB
    first = hostile.submit(rows, "slow.csv")
    assert first.status_code == 200
    second = hostile.submit(b"text\na fine film\n", "second.csv", busy_ok=True)
    assert second.status_code == 429, second.text
    assert int(second.headers["retry-after"]) > 0
    assert second.json()["detail"][0]["type"] == "too_many_jobs"
    assert hostile.wait(first.json()["task_id"], timeout=300)["status"] == "completed"
    third = hostile.submit(b"text\na fine film\n", "third.csv")
    assert third.status_code == 200
    assert hostile.wait(third.json()["task_id"])["status"] == "completed"


# Found by review: ways to leak or bypass a job slot, to fetch a URL, to split
# what the edge and BentoML read, and files that blow up below the caps.
def test_bad_submissions_never_lock_a_worker_out_of_jobs(hostile: Hostile) -> None:
    for text_column in ("5", "null", "{}"):
        r = hostile.submit(b"text\na fine film\n", "a.csv", text_column=text_column)
        assert r.status_code == 400, r.text
        assert r.json()["detail"][0]["type"] == "bad_field"
    accepted = hostile.submit(b"text\na fine film\n", "b.csv")
    assert accepted.status_code == 200
    assert hostile.wait(accepted.json()["task_id"])["status"] == "completed"


def test_a_second_file_value_that_is_a_url_is_refused(hostile: Hostile) -> None:
    r = hostile.post(
        "/classify_file",
        files=[
            ("file", ("a.csv", b"text\na fine film\n", "text/csv")),
            ("file", (None, b"http://127.0.0.1:9/metrics")),
        ],
        headers=AUTH,
    )
    assert r.status_code == 400, r.text


def multipart_raw(disposition: bytes, boundary: bytes = b"XyZ") -> bytes:
    return (
        b"--"
        + boundary
        + b'\r\nContent-Disposition: form-data; name="file"; '
        + disposition
        + b"\r\nContent-Type: text/csv\r\n\r\ntext\na fine film\n\r\n--"
        + boundary
        + b"--\r\n"
    )


@pytest.mark.parametrize(
    ("disposition", "content_type"),
    [
        (b"filename=" + b"a" * 300 + b".csv", b"multipart/form-data; boundary=XyZ"),
        (
            b'filename="a\\".csv' + b"b" * 300 + b'.csv"',
            b"multipart/form-data; boundary=XyZ",
        ),
        (b'filename="a.csv"', b"multipart/form-data; boundary=XyZ; boundary=Q"),
    ],
)
def test_the_edge_and_bentoml_read_an_upload_alike(
    hostile: Hostile, disposition: bytes, content_type: bytes
) -> None:
    response = raw_request(
        hostile.port,
        b"POST",
        b"/classify_file",
        [
            (b"Authorization", f"Bearer {API_KEY}".encode()),
            (b"Content-Type", content_type),
        ],
        body=multipart_raw(disposition),
    )
    assert response.status in (200, 400), (response.status, response.body[:300])


def test_duplicate_content_types_are_refused(hostile: Hostile) -> None:
    response = raw_request(
        hostile.port,
        b"POST",
        b"/classify",
        [
            (b"Authorization", f"Bearer {API_KEY}".encode()),
            (b"Content-Type", b"multipart/form-data; boundary=x"),
            (b"Content-Type", b"application/json"),
        ],
        body=json.dumps(REVIEW).encode(),
    )
    assert response.status == 400 and b"duplicate_header" in response.body


def test_an_unterminated_string_of_escapes_is_answered_at_once(
    hostile: Hostile,
) -> None:
    body = (
        b'{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["'
        + b'\\"' * 400_000
    )
    r = httpx.post(
        f"{hostile.url}/v2/models/sentiment/infer",
        content=body,
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=30,  # the quadratic scan took 17 s for 80 KB, minutes for this
    )
    assert r.status_code == 400
    assert hostile.classify_ok()


def test_a_wide_file_is_refused_before_it_is_built(hostile: Hostile) -> None:
    header = ",".join(["text", *(f"c{i}" for i in range(200_000))]).encode()  # 1.5 MB
    before = max(hostile.worker_rss())
    task_id = hostile.submit(header + b"\na fine film\n", "wide.csv").json()["task_id"]
    status = hostile.wait(task_id)
    assert status["status"] == "failed" and "SENTIMENT_MAX_COLUMNS" in status["error"]
    assert max(hostile.worker_rss()) < before + (300 << 20)


def test_a_parquet_dictionary_bomb_fails_clearly(
    hostile: Hostile, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bomb.parquet"
    table = pa.table({"text": pa.array(["x" * 5000] * 150_000).dictionary_encode()})
    pq.write_table(table, path, store_schema=False)
    task_id = hostile.submit(path.read_bytes(), "bomb.parquet").json()["task_id"]
    status = hostile.wait(task_id)
    assert status["status"] == "failed"
    assert "SENTIMENT_MAX_INFLATED_BYTES" in status["error"], status


def test_categorical_parquet_and_formula_headers_are_escaped(
    hostile: Hostile, tmp_path: Path
) -> None:
    path = tmp_path / "cat.parquet"
    pd.DataFrame(
        {
            "text": ["a wonderful film", "a dull mess"],
            "=HYPERLINK(1)": pd.Categorical(["-", "ok"]),
        }
    ).to_parquet(path)
    task_id = hostile.submit(path.read_bytes(), "cat.parquet").json()["task_id"]
    assert hostile.wait(task_id)["status"] == "completed"
    result = httpx.get(
        f"{hostile.url}/classify_file/get", params={"task_id": task_id}, headers=AUTH
    )
    scored = pd.read_csv(io.BytesIO(result.content), keep_default_na=False)
    assert "'=HYPERLINK(1)" in scored.columns
    assert list(scored["'=HYPERLINK(1)"]) == ["'-", "ok"]


def test_retries_need_a_free_slot_too(hostile: Hostile) -> None:
    done = hostile.submit(b"text\na fine film\n", "r.csv").json()["task_id"]
    assert hostile.wait(done)["status"] == "completed"
    rows = b"text\n" + b"a fine, warm and moving film\n" * 60_000
    running = hostile.submit(rows, "slow.csv")
    assert running.status_code == 200
    retry = hostile.post("/classify_file/retry", params={"task_id": done}, headers=AUTH)
    assert retry.status_code == 429, retry.text
    assert hostile.wait(running.json()["task_id"], timeout=300)["status"] == "completed"


# Found by review of the edge's /classify path: odd bodies it must read as
# BentoML does, a stalled body, and tiny deadlines.
REVIEW_BODY = json.dumps(REVIEW).encode()
FILM_TEXT = REVIEW["texts"][0]


def classify_raw(
    hostile: Hostile, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, bytes]:
    response = raw_request(
        hostile.port,
        b"POST",
        b"/classify",
        [
            (b"Authorization", f"Bearer {API_KEY}".encode()),
            (b"Content-Type", b"application/json"),
            *(headers or [(b"Content-Length", b"%d" % len(body))]),
        ],
        body=body,
    )
    status, answer = response.status, response.body
    if status == 100:  # the interim answer to Expect: 100-continue, then the real one
        head, _, answer = answer.partition(b"\r\n\r\n")
        status = int(head.split()[1])
    return status, answer


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"texts": ["bad"], "texts": ["' + FILM_TEXT.encode() + b'"]}', None),
        (b' \r\n{"texts": ["\\u2003 ' + FILM_TEXT.encode() + b'\\n"]}\t', None),
        (REVIEW_BODY, [(b"Content-Length", b"000%d" % len(REVIEW_BODY))]),
        (
            REVIEW_BODY,
            [
                (b"Content-Length", b"%d" % len(REVIEW_BODY)),
                (b"Expect", b"100-continue"),
            ],
        ),
    ],
)
def test_an_odd_valid_body_is_answered_as_the_plain_one(
    hostile: Hostile, body: bytes, headers: list[tuple[bytes, bytes]] | None
) -> None:
    plain = classify_raw(hostile, REVIEW_BODY)
    assert plain[0] == 200
    assert classify_raw(hostile, body, headers) == plain


@pytest.mark.parametrize(
    ("body", "rule", "loc"),
    [
        (b"\xef\xbb\xbf" + REVIEW_BODY, "json_invalid", []),
        (REVIEW_BODY + b" x", "json_invalid", []),
        (
            b'{"texts": ["a fine film"], "texts": ["bad"]}',
            "review_too_short",
            ["texts", 0],
        ),
        (
            b'{"texts": ["a fine film", "a \\u0000 film"]}',
            "review_has_control_character",
            ["texts", 1],
        ),
        (b'{"texts": ["a fine \xff film"]}', "json_invalid", []),
        (b'{"texts": ["a fine \\ud800 film"]}', "json_invalid", []),
        (b'{"texts": ["' + b"a" * 5001 + b'"]}', "review_too_long", ["texts", 0]),
        (
            b'{"texts": [' + b",".join([b'"a fine film"'] * 257) + b"]}",
            "too_long",
            ["texts"],
        ),
        (b'{"texts": ["a fine film", 1e999]}', "string_type", ["texts", 1]),
        (gzip.compress(REVIEW_BODY), "json_invalid", []),
    ],
)
def test_an_odd_invalid_body_gets_the_stacks_400(
    hostile: Hostile, body: bytes, rule: str, loc: list[object]
) -> None:
    status, answer = classify_raw(hostile, body)
    refusal = json.loads(answer)
    assert status == 400, answer[:300]
    assert (refusal["detail"][0]["type"], refusal["detail"][0]["loc"]) == (rule, loc)
    assert refusal["request_id"]


def read_to_close(connection: socket.socket) -> bytes:
    """Everything the server sends on ``connection`` until it closes it."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_stalled_bodies_are_answered_504_and_free_their_slots(
    hostile: Hostile,
) -> None:
    """More stalled bodies than admission's limit: 504s at SENTIMENT_TIMEOUT_S.

    The edge once read the body outside BentoML's timeout: 70 connections
    that sent a head and one byte kept every request 503 while they stayed.
    """
    head = (
        b"POST /classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
        b"\r\nAuthorization: Bearer " + API_KEY.encode() + b"\r\nContent-Length: 100"
        b"\r\nConnection: close\r\n\r\n{"
    )
    stalled = [socket.create_connection(("127.0.0.1", hostile.port)) for _ in range(70)]
    try:
        for connection in stalled:
            connection.settimeout(30)  # before the fix: no answer, a TimeoutError
            connection.sendall(head)
        answers = [read_to_close(connection) for connection in stalled]
    finally:
        for connection in stalled:
            connection.close()
    statuses = [answer[9:12] for answer in answers]  # beyond the limit: queued, 503
    assert set(statuses) <= {b"503", b"504"} and b"504" in statuses, answers[0]
    late = [a for a in answers if a.startswith(b"HTTP/1.1 504 ")]
    assert all(b"Not able to process the request" in answer for answer in late)
    assert hostile.classify_ok()


def test_tiny_deadlines_get_200_or_a_shaped_504(hostile: Hostile) -> None:
    body = {"texts": [FILM_TEXT] * 50}

    def one(i: int) -> httpx.Response:
        headers = {**AUTH, "X-Request-Timeout-Ms": str(1 + i % 8)}
        return hostile.post("/classify", json=body, headers=headers)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(160)))
    statuses = {r.status_code for r in answers}
    assert statuses <= {200, 503, 504}, statuses
    for r in answers:
        if r.status_code != 200:
            refusal = r.json()
            assert refusal["request_id"] == r.headers["x-request-id"]
            rule = refusal["detail"][0]["type"]
            assert rule == (
                "overloaded" if r.status_code == 503 else "deadline_exceeded"
            )
    assert hostile.classify_ok()


# The property-based pass: anything, anywhere.
METHODS = st.sampled_from(
    [b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"FOO"]
)
KNOWN = [*PROTECTED, *OPEN_GETS]
PATHS = st.one_of(
    st.sampled_from(KNOWN),
    st.builds(
        lambda base, tail: base + tail,
        st.sampled_from(KNOWN),
        st.sampled_from(["%0A", "%00", "/", "//", "%2F", "?x=1", "/..", "%7F", "#"]),
    ),
    st.text(
        alphabet=st.characters(codec="ascii", exclude_characters=" #?"),
        max_size=40,
    ).map(lambda s: "/" + "".join(c if c.isalnum() else f"%{ord(c):02X}" for c in s)),
)
AUTHS = st.sampled_from(
    [None, f"Bearer {API_KEY}", f"Bearer {API_KEY}\x00", "Bearer", "Basic x", API_KEY]
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "text/plain",
        "multipart/form-data",
        "multipart/form-data; boundary=b",
        "application/x-www-form-urlencoded",
    ]
)
BODIES = st.one_of(
    st.just(b""),
    st.just(json.dumps(REVIEW).encode()),
    st.just(json.dumps(INFER).encode()),
    st.just(b'{"texts": "not a list"}'),
    st.just(b'{"texts": [1, 2, 3]}'),
    st.just(b"[" * 500 + b"]" * 500),
    st.just(b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nx\r\n--b--'),
    st.binary(max_size=300),
)


def answers_never_break_the_rules(hostile: Hostile) -> object:
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
        database=None,
    )
    @given(
        method=METHODS,
        path=PATHS,
        auth=AUTHS,
        content_type=CONTENT_TYPES,
        body=BODIES,
        chunked=st.booleans(),
    )
    def check(
        method: bytes,
        path: str,
        auth: str | None,
        content_type: str | None,
        body: bytes,
        chunked: bool,
    ) -> None:
        headers = []
        if auth is not None:
            headers.append((b"Authorization", auth.encode()))
        if content_type is not None:
            headers.append((b"Content-Type", content_type.encode()))
        if not chunked:
            headers.append((b"Content-Length", str(len(body)).encode()))
        response = raw_request(
            hostile.port,
            method,
            path.encode(),
            headers,
            body=[body] if chunked else body,
        )
        assert response.status != 0, (method, path)
        assert response.status < 500, (method, path, response.head, response.body[:300])
        bare = path.split("?", 1)[0]
        if bare in PROTECTED and auth != f"Bearer {API_KEY}":
            assert response.status != 200, (method, path, auth)

    return check


def test_hostile_requests_never_get_a_5xx_or_a_keyless_200(hostile: Hostile) -> None:
    metrics_before = hostile.metrics_lines()
    rss_before = max(hostile.worker_rss())
    answers_never_break_the_rules(hostile)()  # type: ignore[operator]
    assert hostile.classify_ok()
    # A few series per known route and status may appear; unknown paths add none.
    assert hostile.metrics_lines() < metrics_before + 1500
    assert max(hostile.worker_rss()) < max(RSS_LIMIT, rss_before + (200 << 20))


# The gRPC side: the same rules, as statuses.
GRPC_ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}
KEY_METADATA = (("authorization", f"Bearer {API_KEY}"),)
GRPC_AUTHS = st.sampled_from(
    [
        (),
        KEY_METADATA,
        (("authorization", "Bearer wrong"),),
        (("authorization", API_KEY),),
        KEY_METADATA * 2,
        (("authorization-bin", b"\x00\xff"),),
    ]
)
PARAMETERS = st.dictionaries(
    st.sampled_from(["timeout", "binary_data_size", "x", ""]),
    st.one_of(
        st.builds(pb.InferParameter, int64_param=st.integers(-(2**63), 2**63 - 1)),
        st.builds(pb.InferParameter, bool_param=st.booleans()),
        st.builds(pb.InferParameter, string_param=st.text(max_size=20)),
        st.builds(pb.InferParameter, double_param=st.floats(allow_nan=True)),
        st.just(pb.InferParameter()),
    ),
    max_size=3,
)
TEXTS = st.lists(
    st.one_of(
        st.just(b"a wonderful, moving film"), st.just(b""), st.binary(max_size=40)
    ),
    max_size=6,
)


@st.composite
def infer_messages(draw: st.DrawFn) -> pb.ModelInferRequest:
    """ModelInferRequests from plain to absurd: tensors, shapes, contents, raw."""
    message = pb.ModelInferRequest(
        model_name=draw(st.sampled_from(["sentiment", "other", ""])),
        model_version=draw(st.sampled_from(["", "nope"])),
        id=draw(st.text(max_size=10)),
        parameters=draw(PARAMETERS),
    )
    for _ in range(draw(st.integers(0, 2))):
        texts = draw(TEXTS)
        shape = draw(
            st.one_of(
                st.just([len(texts)]),
                st.just([len(texts), 1]),
                st.lists(st.integers(-(2**63), 2**63 - 1), max_size=3),
            )
        )
        tensor = message.inputs.add(
            name=draw(st.sampled_from(["text", "", "x"])),
            datatype=draw(st.sampled_from(["BYTES", "FP32", "bytes", ""])),
            shape=shape,
            parameters=draw(PARAMETERS),
        )
        how = draw(st.sampled_from(["contents", "raw", "raw_bad", "fp32", "none"]))
        if how == "contents":
            tensor.contents.bytes_contents.extend(texts)
        elif how == "raw":
            message.raw_input_contents.append(
                b"".join(len(t).to_bytes(4, "little") + t for t in texts)
            )
        elif how == "raw_bad":
            message.raw_input_contents.append(draw(st.binary(max_size=40)))
        elif how == "fp32":
            tensor.contents.fp32_contents.extend([1.0, 2.0])
    for name in draw(st.lists(st.sampled_from(["label", "score", "nope"]), max_size=2)):
        message.outputs.add(name=name)
    return message


def test_grpc_without_the_key_is_unauthenticated(hostile: Hostile) -> None:
    message = pb.ModelInferRequest(model_name="sentiment")
    tensor = message.inputs.add(name="text", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(b"a wonderful, moving film")
    with grpc.insecure_channel(f"127.0.0.1:{hostile.grpc_port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        for metadata in ((), (("authorization", "Bearer wrong"),)):
            with pytest.raises(grpc.RpcError) as refused:
                stub.ModelInfer(message, metadata=metadata, timeout=30)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        answer = stub.ModelInfer(message, metadata=KEY_METADATA, timeout=30)
        assert [output.name for output in answer.outputs][0] == "label"
        assert stub.ServerReady(pb.ServerReadyRequest()).ready  # health needs none


def test_a_grpc_message_over_the_body_cap_is_refused(hostile: Hostile) -> None:
    message = pb.ModelInferRequest(model_name="sentiment")
    tensor = message.inputs.add(name="text", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(b"a" * (2 << 20))  # the cap is 1 MiB
    with grpc.insecure_channel(f"127.0.0.1:{hostile.grpc_port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            stub.ModelInfer(message, metadata=KEY_METADATA, timeout=30)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_hostile_grpc_calls_are_never_unknown_internal_or_keyless_ok(
    hostile: Hostile,
) -> None:
    channel = grpc.insecure_channel(f"127.0.0.1:{hostile.grpc_port}")
    stub = pb_grpc.GRPCInferenceServiceStub(channel)

    @settings(
        max_examples=200,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
        database=None,
    )
    @given(message=infer_messages(), metadata=GRPC_AUTHS)
    def check(message: pb.ModelInferRequest, metadata: tuple) -> None:  # type: ignore[type-arg]
        try:
            stub.ModelInfer(message, metadata=metadata, timeout=30)
            code = grpc.StatusCode.OK
        except grpc.RpcError as error:
            code = error.code()
            details = error.details() or ""
            assert details, (code, message)
        assert code in GRPC_ALLOWED, (code, message, metadata)
        if metadata != KEY_METADATA:
            assert code != grpc.StatusCode.OK, (message, metadata)

    try:
        check()
    finally:
        channel.close()
    assert hostile.classify_ok()

from __future__ import annotations

import json

import pytest

from sentiment.asgi import DRAIN_BYTES
from sentiment.config import Settings
from sentiment.http.admission import Admission
from sentiment.http.uploads import FORWARDED_BOUNDARY, shortened
from sentiment.jobs.slots import SLOTS
from tests.asgi import FakeApp, admission_for, request
from tests.unit.uploads import BOUNDARY, UPLOAD_TYPE, upload_body

SUBMIT = "/classify_file/submit"


def submit(app: Admission, body: bytes, content_type: bytes = UPLOAD_TYPE, **kw):  # type: ignore[no-untyped-def]
    return request(app, body, {b"content-type": content_type}, path=SUBMIT, **kw)


def test_bentoml_gets_a_body_written_from_the_parsed_form() -> None:
    app = FakeApp()
    assert submit(admission_for(app, Settings()), upload_body()).status == 200
    (seen,) = app.seen
    assert FORWARDED_BOUNDARY in seen and BOUNDARY not in seen
    assert b'name="file"; filename="reviews.csv"' in seen
    assert b"text\na fine film\n" in seen and b'name="text_column"' in seen


def rule(answer) -> str:  # type: ignore[no-untyped-def]
    return str(json.loads(answer.body)["detail"][0]["type"])


TWO_FILES = upload_body(text_column=None)[: -len(b"--%s--\r\n" % BOUNDARY)] + (
    upload_body(filename=b"b.csv", text_column=None)
)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "expected"),
    [
        (upload_body(filename=None), UPLOAD_TYPE, 400, "missing_file"),
        (upload_body(field=b"other"), UPLOAD_TYPE, 400, "missing_file"),
        (upload_body(text_column=b"5"), UPLOAD_TYPE, 400, "bad_field"),
        (upload_body(text_column=b"null"), UPLOAD_TYPE, 400, "bad_field"),
        (TWO_FILES, UPLOAD_TYPE, 400, "bad_multipart"),
        (b"garbage", UPLOAD_TYPE, 400, "bad_multipart"),
        (upload_body(), b"application/json", 415, "unsupported_media_type"),
        (upload_body(), b"multipart/form-data", 415, "unsupported_media_type"),
    ],
)
def test_uploads_that_are_not_one_file_and_text_fields_are_refused(
    body: bytes, content_type: bytes, status: int, expected: str
) -> None:
    app = FakeApp()
    answer = submit(admission_for(app, Settings()), body, content_type)
    assert (answer.status, rule(answer)) == (status, expected)
    assert app.seen == [] and SLOTS.taken() == 0


@pytest.mark.parametrize(
    "name",
    [
        "r" * 300 + ".csv.gz",
        "é" * 200 + ".csv",
        'a".csv' + "b" * 300 + ".csv",
        "../../" + "x" * 300 + ".tsv",
    ],
)
def test_long_or_odd_file_names_are_shortened_keeping_extensions(name: str) -> None:
    short = shortened(name)
    assert len(short.encode()) <= 128
    assert short.endswith(name.rsplit(".", 1)[-1]) and '"' not in short
    assert "/" not in short
    assert shortened("reviews.csv") == "reviews.csv"


def test_the_forwarded_name_is_the_short_one() -> None:
    app = FakeApp()
    body = upload_body(filename=b"r" * 300 + b".csv")
    assert submit(admission_for(app, Settings()), body).status == 200
    assert b"r" * 129 not in app.seen[0] and b'.csv"' in app.seen[0]


def test_a_chunked_upload_is_counted_stopped_at_the_cap_and_drained() -> None:
    app = FakeApp()
    admission = admission_for(app, Settings(max_file_bytes=1000))
    body = upload_body(content=b"x" * 5000)
    answer = submit(admission, body, chunk_size=256)  # no content-length
    assert answer.status == 413
    assert b"SENTIMENT_MAX_FILE_BYTES" in answer.body
    assert app.seen == [] and SLOTS.taken() == 0
    # the rest was read and dropped: the client reads the 413, the connection lives
    assert answer.chunks_read == -(-len(body) // 256)
    assert b"connection" not in answer.headers


def test_an_upload_beyond_the_drain_is_refused_and_closed() -> None:
    app = FakeApp()
    admission = admission_for(app, Settings(max_file_bytes=1000))
    chunk = 1 << 20
    body = upload_body(content=b"x" * (DRAIN_BYTES + 3 * chunk))
    answer = submit(admission, body, chunk_size=chunk)
    assert answer.status == 413 and answer.headers[b"connection"] == b"close"
    assert answer.chunks_read < DRAIN_BYTES // chunk + 3, "the drain is bounded"


def test_a_declared_length_over_the_cap_is_drained_then_refused() -> None:
    app = FakeApp()
    admission = admission_for(app, Settings(max_file_bytes=1000))
    answer = request(
        admission,
        upload_body(),
        {b"content-type": UPLOAD_TYPE, b"content-length": b"5000"},
        path=SUBMIT,
    )
    assert answer.status == 413 and app.seen == []
    assert b"connection" not in answer.headers


def test_a_client_waiting_for_100_continue_gets_the_413_unread() -> None:
    app = FakeApp()
    admission = admission_for(app, Settings(max_file_bytes=1000))
    headers = {
        b"content-type": UPLOAD_TYPE,
        b"content-length": b"5000",
        b"expect": b"100-continue",
    }
    answer = request(admission, upload_body(), headers, path=SUBMIT)
    assert answer.status == 413 and answer.chunks_read == 0
    assert answer.headers[b"connection"] == b"close"


def test_a_slot_is_held_while_bentoml_runs_the_request() -> None:
    seen: list[int] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        seen.append(SLOTS.taken())
        await FakeApp()(scope, receive, send)

    assert submit(admission_for(app, Settings()), upload_body()).status == 200
    assert seen == [1] and SLOTS.taken() == 0


@pytest.mark.parametrize("path", [SUBMIT, "/classify_file", "/classify_file/retry"])
def test_a_full_worker_answers_429_to_whatever_starts_a_job(path: str) -> None:
    admission = admission_for(FakeApp(), Settings(max_jobs=2))
    held = [SLOTS.take(2), SLOTS.take(2)]
    busy = request(admission, upload_body(), {b"content-type": UPLOAD_TYPE}, path=path)
    assert busy.status == 429 and busy.headers[b"retry-after"] == b"10"
    assert rule(busy) == "too_many_jobs"
    for ticket in held:
        assert ticket is not None
        SLOTS.release_edge(ticket)
    ok = request(admission, upload_body(), {b"content-type": UPLOAD_TYPE}, path=path)
    assert ok.status == 200 and SLOTS.taken() == 0


def test_a_job_outliving_its_request_keeps_the_slot() -> None:
    ticket = SLOTS.take(1)
    assert ticket is not None
    with SLOTS.holding(ticket):
        running = SLOTS.job_started()  # the job's thread, as anyio copies the context
    SLOTS.release_edge(ticket)  # the request timed out
    assert SLOTS.taken() == 1 and SLOTS.take(1) is None
    SLOTS.job_ended(running)
    assert SLOTS.taken() == 0


def test_refused_uploads_hold_no_slot() -> None:
    admission = admission_for(FakeApp(status=400), Settings(max_jobs=1))
    for _ in range(3):
        assert submit(admission, upload_body()).status == 400
        assert submit(admission, upload_body(filename=None)).status == 400
    assert SLOTS.taken() == 0


def test_a_stalled_upload_gets_408_and_frees_its_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    from sentiment.http import uploads

    monkeypatch.setattr(uploads, "IDLE_S", 0.01)
    sent: list[dict] = []

    async def receive() -> dict:
        await asyncio.sleep(3600)  # the client sent its headers, then nothing
        return {}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": SUBMIT,
        "headers": [(b"content-type", UPLOAD_TYPE)],
    }
    asyncio.run(admission_for(FakeApp(), Settings())(scope, receive, send))
    assert sent[0]["status"] == 408 and SLOTS.taken() == 0

from __future__ import annotations

import json

import pytest

from sentiment.config import Settings
from sentiment.errors import UploadError
from sentiment.http.admission import Admission
from sentiment.http.uploads import checked_upload, shortened
from sentiment.jobs.runner import SLOTS
from tests.asgi import FakeApp, request
from tests.unit.uploads import UPLOAD_TYPE, upload_body

SUBMIT = "/classify_file/submit"


def submit(app: Admission, body: bytes, content_type: bytes = UPLOAD_TYPE, **kw):  # type: ignore[no-untyped-def]
    return request(app, body, {b"content-type": content_type}, path=SUBMIT, **kw)


def test_a_real_file_part_passes_unchanged() -> None:
    body = upload_body()
    assert checked_upload(body, UPLOAD_TYPE) == body


@pytest.mark.parametrize(
    ("body", "content_type", "status", "rule"),
    [
        (upload_body(filename=None), UPLOAD_TYPE, 400, "missing_file"),
        (upload_body(field=b"other"), UPLOAD_TYPE, 400, "missing_file"),
        (b"garbage", UPLOAD_TYPE, 400, "missing_file"),
        (upload_body(), b"application/json", 415, "unsupported_media_type"),
        (upload_body(), b"multipart/form-data", 400, "bad_multipart"),
    ],
)
def test_uploads_that_are_not_a_file_are_refused(
    body: bytes, content_type: bytes, status: int, rule: str
) -> None:
    with pytest.raises(UploadError) as raised:
        checked_upload(body, content_type)
    assert (raised.value.status, raised.value.rule) == (status, rule)


def test_long_file_names_are_shortened_keeping_extensions() -> None:
    name = b"r" * 300 + b".csv.gz"
    short = shortened(name)
    assert len(short) <= 128 and short.endswith(b".csv.gz")
    body = checked_upload(upload_body(filename=name), UPLOAD_TYPE)
    assert short in body and name not in body
    assert shortened(b"reviews.csv") == b"reviews.csv"


def test_a_chunked_upload_is_counted_and_stopped_at_the_cap() -> None:
    app = FakeApp()
    admission = Admission(app, Settings(max_file_bytes=1000))
    body = upload_body(content=b"x" * 5000)
    answer = submit(admission, body, chunk_size=256)  # no content-length
    assert answer.status == 413
    assert b"SENTIMENT_MAX_FILE_BYTES" in answer.body
    assert app.seen == [] and answer.chunks_read < len(body) // 256
    assert SLOTS.taken() == 0


def test_a_declared_length_over_the_cap_is_refused_unread() -> None:
    app = FakeApp()
    admission = Admission(app, Settings(max_file_bytes=1000))
    answer = request(
        admission,
        upload_body(),
        {b"content-type": UPLOAD_TYPE, b"content-length": b"5000"},
        path=SUBMIT,
    )
    assert answer.status == 413 and answer.chunks_read == 0 and app.seen == []


def test_the_app_gets_the_body_and_a_true_length() -> None:
    app = FakeApp()
    body = upload_body(filename=b"r" * 300 + b".csv")
    assert submit(Admission(app, Settings()), body).status == 200
    assert app.seen and len(app.seen[0]) < len(body)


def test_accepted_submissions_hold_a_slot_until_their_job_starts() -> None:
    admission = Admission(FakeApp(), Settings(max_jobs=2))
    assert submit(admission, upload_body()).status == 200
    assert SLOTS.taken() == 1
    assert submit(admission, upload_body()).status == 200
    busy = submit(admission, upload_body())
    assert busy.status == 429 and busy.headers[b"retry-after"] == b"10"
    assert json.loads(busy.body)["detail"][0]["type"] == "too_many_jobs"
    SLOTS.job_started()
    assert SLOTS.taken() == 2  # pending became running
    SLOTS.job_ended()
    assert submit(admission, upload_body()).status == 200


def test_refused_uploads_hold_no_slot() -> None:
    admission = Admission(FakeApp(status=400), Settings(max_jobs=1))
    for _ in range(3):
        assert submit(admission, upload_body()).status == 400
        assert submit(admission, upload_body(filename=None)).status == 400
    assert SLOTS.taken() == 0

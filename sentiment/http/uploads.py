"""File uploads to the jobs, checked before BentoML parses or stores them.

BentoML reads a whole upload into memory, stores it in its task database, and
turns a multipart field that holds text instead of a file into a URL to download
(``_bentoml_impl/serde.py``, ``MultipartSerde.ensure_file``): the service would
fetch any public address a client names. Its temporary file takes the upload's
name as a suffix, so a name over the file system's 255 bytes is a 500. So an
upload must be ``multipart/form-data`` whose ``file`` field is a real file part,
and an over-long file name is shortened (its extensions kept) before BentoML
sees it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment.asgi import read_body, replay
from sentiment.config import Settings
from sentiment.errors import UploadError
from sentiment.http.refusals import Refusal, retry_after
from sentiment.jobs.runner import JOB_RETRY_AFTER_S, SLOTS
from sentiment.telemetry.request_ids import fresh_id

if TYPE_CHECKING:
    from sentiment.http.headers import RequestHeaders

FILE_FIELD = b"file"
MAX_NAME_BYTES = 128
NAME = re.compile(rb'filename="([^"\r\n]*)"')
FIELD = re.compile(rb'(?:^|;)\s*name="([^"\r\n]*)"', re.IGNORECASE)
BOUNDARY = re.compile(rb'boundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))', re.IGNORECASE)


def is_multipart(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` is ``multipart/form-data``."""
    return content_type.split(b";")[0].strip().lower() == b"multipart/form-data"


def boundary_of(content_type: bytes) -> bytes:
    """The multipart boundary a ``Content-Type`` declares.

    Raises:
        UploadError: not ``multipart/form-data``, or no boundary.
    """
    if not is_multipart(content_type):
        shown = content_type.decode(errors="replace")[:100]
        raise UploadError(
            415,
            "unsupported_media_type",
            f"a file job must be sent as multipart/form-data, got {shown!r}",
        )
    found = BOUNDARY.search(content_type)
    if found is None:
        raise UploadError(400, "bad_multipart", "multipart body without a boundary")
    return found.group(1) or found.group(2)


def shortened(name: bytes, limit: int = MAX_NAME_BYTES) -> bytes:
    """``name`` cut to ``limit`` bytes, its extensions (``.csv.gz``) kept."""
    if len(name) <= limit:
        return name
    base = name.rsplit(b"/", 1)[-1].rsplit(b"\\", 1)[-1]
    stem, dot, extensions = base.partition(b".")
    extensions = (dot + extensions)[-min(len(extensions) + 1, limit // 2) :]
    return stem[: limit - len(extensions)] + extensions


def checked_upload(body: bytes, content_type: bytes) -> bytes:
    """The upload's body, its file name shortened if needed.

    Raises:
        UploadError: not multipart, or no ``file`` field carrying a file.
    """
    delimiter = b"--" + boundary_of(content_type)
    position = body.find(delimiter)
    while position != -1:
        headers_start = position + len(delimiter) + 2  # past the CRLF
        headers_end = body.find(b"\r\n\r\n", headers_start)
        if body[position + len(delimiter) : headers_start] != b"\r\n" or (
            headers_end == -1
        ):
            break
        headers = body[headers_start:headers_end]
        field = FIELD.search(_disposition(headers))
        if field is not None and field.group(1) == FILE_FIELD:
            return _with_short_name(body, headers_start, headers)
        position = body.find(delimiter, headers_end)
    raise UploadError(
        400,
        "missing_file",
        "the upload needs a 'file' field carrying a file (a file part with a "
        "filename); URLs are not fetched",
    )


def _disposition(headers: bytes) -> bytes:
    for line in headers.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-disposition":
            return value
    return b""


def _with_short_name(body: bytes, headers_start: int, headers: bytes) -> bytes:
    name = NAME.search(headers)
    if name is None:
        raise UploadError(
            400,
            "missing_file",
            "the 'file' field must be a file part with a filename (e.g. reviews.csv); "
            "URLs are not fetched",
        )
    short = shortened(name.group(1))
    if short == name.group(1):
        return body
    start = headers_start + name.start(1)
    return body[:start] + short + body[headers_start + name.end(1) :]


class Uploads:
    """Checks a file job's upload at the edge, then hands it to BentoML.

    In order: a free job slot in this worker (else 429 + ``Retry-After``), the
    declared length, ``multipart/form-data`` (415), the bytes as they stream,
    chunked or not (413 at the cap: ``SENTIMENT_MAX_FILE_BYTES``), then a ``file``
    part with a file name (:func:`checked_upload`).

    Args:
        app: BentoML's whole ASGI app.
        settings: the service's settings.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.max_bytes = settings.max_file_bytes
        self.max_jobs = settings.max_jobs
        self.too_large = Refusal(
            413,
            "file_too_large",
            f"the file must be at most {self.max_bytes} bytes "
            "(SENTIMENT_MAX_FILE_BYTES)",
            [(b"connection", b"close")],
        )
        self.busy = Refusal(
            429,
            "too_many_jobs",
            f"this worker already runs {self.max_jobs} file jobs "
            "(SENTIMENT_MAX_JOBS): retry later",
            [retry_after(JOB_RETRY_AFTER_S)],
        )

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, headers: RequestHeaders
    ) -> None:
        """Refuse or pass one ``POST`` upload (class docstring)."""
        request_id = headers.request_id or fresh_id().encode()
        if SLOTS.taken() >= self.max_jobs:
            return await self.busy.send(send, request_id)
        declared = headers.content_length
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self.too_large.send(send, request_id)
        SLOTS.upload_started()
        ended = False

        def end(accepted: bool) -> None:
            nonlocal ended
            if not ended:
                ended = True
                SLOTS.upload_ended(accepted)

        is_submit = scope["path"].endswith("/submit")

        async def send_noting_acceptance(message: Message) -> None:
            if message["type"] == "http.response.start":
                end(accepted=is_submit and message["status"] == 200)
            await send(message)

        try:
            try:
                boundary_of(headers.content_type)  # 415 before reading the body
                body = await self.read(receive)
                body = checked_upload(body, headers.content_type)
            except UploadTooLarge:
                return await self.too_large.send(send, request_id)
            except UploadError as error:
                refusal = Refusal.of(error)
                return await refusal.send(send, request_id)
            except ClientGone:
                return None
            forwarded = [
                (name, value)
                for name, value in scope["headers"]
                if name.lower() != b"content-length"
            ]
            forwarded.append((b"content-length", b"%d" % len(body)))
            await self.app(
                {**scope, "headers": forwarded},
                replay(body, receive),
                send_noting_acceptance,
            )
        finally:
            end(accepted=False)

    async def read(self, receive: Receive) -> bytes:
        """The whole body, counted as it streams.

        Raises:
            UploadTooLarge: past the cap (the rest is not read).
            ClientGone: the client disconnected first.
        """
        body = await read_body(receive, self.max_bytes)
        if body.disconnected:
            raise ClientGone
        if body.over:
            raise UploadTooLarge
        return body.data


class UploadTooLarge(Exception):
    """The upload passed the cap while streaming."""


class ClientGone(Exception):
    """The client disconnected before its upload was read."""

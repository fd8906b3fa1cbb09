"""File uploads to the jobs, checked before BentoML parses or stores them.

BentoML reads a whole upload into memory, stores it in its task database, and
turns a multipart ``file`` value that holds text instead of a file into a URL to
download (``_bentoml_impl/serde.py``, ``MultipartSerde.ensure_file``): the service
would fetch any public address a client names, with no size limit. Its temporary
file takes the upload's name as a suffix, so a name over the file system's 255
bytes is a 500. So the edge parses the upload itself, with the parser BentoML
uses (Starlette's), as it streams: one ``file`` part carrying a file, short text
fields, nothing else; then it hands BentoML a body it wrote itself from what it
parsed, so the two cannot read the same bytes differently.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment.asgi import Reading, drain, replay
from sentiment.config import Settings
from sentiment.errors import UploadError
from sentiment.http.refusals import CLOSE, Refusal, retry_after
from sentiment.jobs.slots import JOB_RETRY_AFTER_S, SLOTS
from sentiment.telemetry.request_ids import fresh_id

if TYPE_CHECKING:
    from sentiment.http.headers import RequestHeaders

FILE_FIELD = "file"
MAX_NAME_BYTES = 128
MAX_FIELDS = 8  # text fields beside the file (text_column is the one used)
MAX_FIELD_BYTES = 1024
IDLE_S = 30.0  # an upload that sends nothing for this long gets 408
FORWARDED_BOUNDARY = b"sentiment-upload-boundary"


class UploadTooLarge(Exception):
    """The upload passed the cap while streaming."""


class UploadStalled(Exception):
    """The client sent nothing for :data:`IDLE_S`."""


class ClientGone(Exception):
    """The client disconnected before its upload was read."""


def is_multipart(content_type: bytes) -> bool:
    """Whether a ``Content-Type`` is ``multipart/form-data`` with a boundary."""
    kind, _, params = content_type.partition(b";")
    return kind.strip().lower() == b"multipart/form-data" and b"boundary=" in params


def not_multipart(content_type: bytes) -> UploadError:
    """415 naming what was sent instead."""
    shown = content_type.decode(errors="replace")[:100]
    return UploadError(
        415,
        "unsupported_media_type",
        "a file job must be sent as multipart/form-data with a boundary, got "
        f"{shown!r}",
    )


def shortened(name: str, limit: int = MAX_NAME_BYTES) -> str:
    """A file name's last path part, cut to ``limit`` UTF-8 bytes, extensions kept.

    Quotes and line breaks become ``_``: the name is written into a header again.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join("_" if c in '"\r\n' or ord(c) < 0x20 else c for c in base)
    if len(base.encode()) <= limit:
        return base or "upload"
    stem, dot, extensions = base.partition(".")
    suffix = (dot + extensions)[-(limit // 2) :]
    budget = limit - len(suffix.encode())
    cut = stem.encode()[:budget].decode(errors="ignore")
    return cut + suffix


def checked_form(form: FormData) -> tuple[UploadFile, list[tuple[str, str]]]:
    """The one file and the text fields of a parsed upload.

    Raises:
        UploadError: no ``file`` part carrying a file, or a field that is not text.
    """
    files = form.getlist(FILE_FIELD)
    if len(files) != 1 or not isinstance(files[0], UploadFile) or not files[0].filename:
        raise UploadError(
            400,
            "missing_file",
            "the upload needs exactly one 'file' field carrying a file (a file part "
            "with a filename); URLs are not fetched",
        )
    fields: list[tuple[str, str]] = []
    for name, value in form.multi_items():
        if name == FILE_FIELD:
            continue
        if not isinstance(value, str) or len(value.encode()) > MAX_FIELD_BYTES:
            raise UploadError(
                400,
                "bad_field",
                f"form field {name[:50]!r} must be text of at most {MAX_FIELD_BYTES} "
                "bytes",
            )
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        if not isinstance(parsed, str):
            raise UploadError(
                400, "bad_field", f"form field {name[:50]!r} must be a string"
            )
        fields.append((name, value))
    return files[0], fields


async def rewritten(upload: UploadFile, fields: list[tuple[str, str]]) -> bytes:
    """A multipart body written from the parsed form: what BentoML will read."""
    await upload.seek(0)
    content = await upload.read()
    name = shortened(upload.filename or "upload").encode()
    kind = (upload.content_type or "application/octet-stream").encode()
    boundary = b"--" + FORWARDED_BOUNDARY
    parts = [
        boundary
        + b'\r\nContent-Disposition: form-data; name="file"; filename="'
        + name
        + b'"\r\nContent-Type: '
        + kind
        + b"\r\n\r\n"
        + content
        + b"\r\n"
    ]
    for field, value in fields:
        safe = field.replace('"', "_").replace("\r", "_").replace("\n", "_")
        parts.append(
            boundary
            + b'\r\nContent-Disposition: form-data; name="'
            + safe.encode()
            + b'"\r\n\r\n'
            + value.encode()
            + b"\r\n"
        )
    return b"".join(parts) + boundary + b"--\r\n"


class Uploads:
    """Checks a file job's request at the edge, then hands it to BentoML.

    In order: a free job slot in this worker (else 429 + ``Retry-After``); for an
    upload, its declared length, ``multipart/form-data`` (415), then the body,
    parsed as it streams, chunked or not: 413 past ``SENTIMENT_MAX_FILE_BYTES``,
    408 when the client stalls, 400 unless it is one file part and text fields.
    The slot is held until BentoML returns, which is after the job: BentoML runs a
    submitted job as the response's background task, inside the same call.

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
        )
        self.stalled = Refusal(
            408,
            "upload_stalled",
            f"the upload sent nothing for {IDLE_S:.0f} s",
            [CLOSE],
        )
        self.busy = Refusal(
            429,
            "too_many_jobs",
            f"this worker already runs {self.max_jobs} file jobs "
            "(SENTIMENT_MAX_JOBS): retry later",
            [retry_after(JOB_RETRY_AFTER_S)],
        )

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: RequestHeaders,
        upload: bool,
    ) -> None:
        """Refuse or pass one request that starts a job (class docstring).

        A refusal drains what is left of the body first (:func:`drain`), but
        for a stalled upload: its client reads the 408 and the connection closes.
        """
        declared = headers.content_length
        if upload and declared.isdigit() and int(declared) > self.max_bytes:
            return await self.too_large.answer(receive, send, headers)
        if upload and not is_multipart(headers.content_type):
            wrong_type = Refusal.of(not_multipart(headers.content_type))
            return await wrong_type.answer(receive, send, headers)
        ticket = SLOTS.take(self.max_jobs)
        if ticket is None:
            return await self.busy.answer(receive, send, headers)
        reading = Reading(receive)
        refusal: Refusal | None = None
        try:
            if upload:
                try:
                    scope, receive = await self.checked(scope, reading)
                except UploadTooLarge:
                    refusal = self.too_large
                except UploadStalled:
                    refusal = self.stalled
                except UploadError as error:
                    refusal = Refusal.of(error)
                except ClientGone:
                    return None
            if refusal is None:
                with SLOTS.holding(ticket):
                    await self.app(scope, receive, send)
                return None
        finally:
            SLOTS.release_edge(ticket)
        # The slot is free again while the rest of a refused body drains; a stalled
        # upload is not waited for (its 408 closes the connection).
        request_id = headers.request_id or fresh_id().encode()
        ended = reading.ended or (refusal is not self.stalled and await drain(reading))
        return await refusal.send(send, request_id, close=not ended)

    async def checked(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        """Parse the upload as it streams; the scope and receive BentoML gets.

        Raises:
            UploadTooLarge, UploadStalled, ClientGone, UploadError.
        """
        parser = MultiPartParser(
            Headers(scope=scope),
            self.stream(receive),
            max_files=1,
            max_fields=MAX_FIELDS,
            max_part_size=MAX_FIELD_BYTES,
        )
        try:
            form = await parser.parse()
        except MultiPartException as error:
            raise UploadError(400, "bad_multipart", str(error)) from None
        try:
            upload, fields = checked_form(form)
            body = await rewritten(upload, fields)
        finally:
            await form.close()
        forwarded = [
            (name, value)
            for name, value in scope["headers"]
            if name.lower() not in (b"content-length", b"content-type")
        ]
        forwarded += [
            (b"content-type", b"multipart/form-data; boundary=" + FORWARDED_BOUNDARY),
            (b"content-length", b"%d" % len(body)),
        ]
        return {**scope, "headers": forwarded}, replay(body, receive)

    async def stream(self, receive: Receive) -> AsyncGenerator[bytes, None]:
        """The body's chunks, counted against the cap, each within :data:`IDLE_S`."""
        size = 0
        while True:
            try:
                message: Message = await asyncio.wait_for(receive(), IDLE_S)
            except TimeoutError:
                raise UploadStalled from None
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise UploadTooLarge
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

"""Multipart bodies for the upload tests, built by hand like a client would."""

from __future__ import annotations

BOUNDARY = b"sentiment-test-boundary"
UPLOAD_TYPE = b"multipart/form-data; boundary=" + BOUNDARY


def upload_body(
    content: bytes = b"text\na fine film\n",
    filename: bytes | None = b"reviews.csv",
    field: bytes = b"file",
    text_column: bytes | None = b"text",
) -> bytes:
    """A multipart body with one file part (or a text part when no filename)."""
    name = b'; filename="%s"' % filename if filename is not None else b""
    parts = [
        b'--%s\r\nContent-Disposition: form-data; name="%s"%s\r\n'
        b"Content-Type: text/csv\r\n\r\n%s\r\n" % (BOUNDARY, field, name, content)
    ]
    if text_column is not None:
        parts.append(
            b'--%s\r\nContent-Disposition: form-data; name="text_column"\r\n\r\n'
            b"%s\r\n" % (BOUNDARY, text_column)
        )
    return b"".join(parts) + b"--%s--\r\n" % BOUNDARY

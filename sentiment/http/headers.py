"""The request headers the edge reads, in one pass, with the API key kept apart."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.types import Scope

from sentiment.telemetry.request_ids import HEADER as REQUEST_ID_HEADER
from sentiment.telemetry.request_ids import client_request_id

DEFAULT_CONTENT_TYPE = b"application/json"  # what a request without one is read as
TIMEOUT_HEADER = b"x-request-timeout-ms"
MAX_TIMEOUT_DIGITS = 9  # a deadline header longer than this is not a number we use


@dataclass
class RequestHeaders:
    """The few request headers the edge reads, and the rest without the key.

    ``forwarded`` is every header but ``Authorization``: once checked, the key
    goes no further, so nothing downstream can log or store it (BentoML's task
    store keeps a job's headers with the job).
    """

    authorization: bytes = b""
    content_type: bytes = DEFAULT_CONTENT_TYPE
    request_id: bytes = b""
    content_length: bytes = b""
    timeout_ms: bytes = b""  # X-Request-Timeout-Ms: the client's own deadline
    expects_continue: bool = False  # Expect: 100-continue (the body waits for it)
    duplicated: bool = False  # a second Authorization or Content-Type
    forwarded: list[tuple[bytes, bytes]] = field(default_factory=list)

    @classmethod
    def of(cls, scope: Scope) -> RequestHeaders:
        """Read them in one pass over the raw headers."""
        found = cls()
        forwarded = found.forwarded
        for header in scope["headers"]:
            name = header[0].lower()
            if name == b"authorization":
                found.duplicated |= bool(found.authorization)
                found.authorization = header[1]
                continue
            forwarded.append(header)
            if name == b"content-type":
                found.duplicated |= found.content_type is not DEFAULT_CONTENT_TYPE
                found.content_type = header[1]
            elif name == b"content-length":
                found.content_length = header[1]
            elif name == TIMEOUT_HEADER:
                found.duplicated |= bool(found.timeout_ms)
                found.timeout_ms = header[1]
            elif name == REQUEST_ID_HEADER and (valid := client_request_id(header[1])):
                found.request_id = valid
            elif name == b"expect":
                found.expects_continue = header[1].lower() == b"100-continue"
        return found


def timeout_seconds(value: bytes) -> float | None:
    """``X-Request-Timeout-Ms`` in seconds; None unless a whole number above 0."""
    if not value.isdigit() or len(value) > MAX_TIMEOUT_DIGITS or int(value) == 0:
        return None
    return int(value) / 1000

"""``GET /classify_file/status`` with the job's own record merged in.

BentoML's task status says ``failure`` or ``success``; the record
(:func:`sentiment.jobs.runner.read_record`) adds the counts, the progress and
why a job failed.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sentiment.asgi import rewrite_response
from sentiment.jobs.runner import augmented

STATUS_PATH = "/classify_file/status"


class JobStatus:
    """Adds job records to ``GET /classify_file/status``.

    Uploads are checked before this, at the edge (``sentiment.http.uploads``).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass through, except the status path."""
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or scope["path"] != STATUS_PATH
        ):
            return await self.app(scope, receive, send)
        await self.app(scope, receive, rewrite_response(send, ok, with_record))


def ok(status: int) -> bool:
    """Only successful status answers are augmented."""
    return status == 200


def with_record(start: Message, body: bytes) -> tuple[Message, bytes]:
    """The status body with the job's record merged in."""
    return start, json.dumps(augmented(json.loads(body))).encode()

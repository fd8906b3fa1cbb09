"""The floor of bulk requests: HTTP and JSON on this machine, and no model at all.

A raw ASGI app that does what any server of ``POST /classify`` must do and
nothing else: read the body, parse it with orjson, and send an answer of the
size this service sends (one ``{"label", "score", "probabilities"}`` per
review, built once per size by the service's own :func:`to_predictions`). The
CPU it, wrk and the kernel use per review is what no server can avoid here;
``bench.bulk`` sets it beside the model's cost to bound the share of the
in-process limit any server can reach.

Run: ``uvicorn bench.floor_app:app --workers 2 --loop uvloop --http httptools``.
"""

from __future__ import annotations

import functools

import numpy as np
import orjson
from starlette.types import Message, Receive, Scope, Send

from sentiment.model.artifact import LABELS
from sentiment.model.labels import to_predictions

JSON = [(b"content-type", b"application/json")]
# A typical answer's probabilities: 17 significant digits, as the model's are.
ROW = (0.23105857863000487, 0.7689414213699951)


@functools.cache
def answer(count: int) -> bytes:
    """The body of an answer to ``count`` reviews, the size the service sends."""
    rows = np.tile(np.array(ROW), (count, 1))
    return orjson.dumps(to_predictions(rows, list(LABELS)))


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /classify: parse the body, answer its size; GET /readyz: ok."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/readyz":
        return await respond(send, 200, b"ok")
    chunks = []
    more = True
    while more:
        message: Message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    try:
        texts = orjson.loads(b"".join(chunks))["texts"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return await respond(send, 400, b'{"error":"invalid body"}')
    await respond(send, 200, answer(len(texts)))


async def respond(send: Send, status: int, body: bytes) -> None:
    """One whole response: start and body."""
    await send({"type": "http.response.start", "status": status, "headers": JSON})
    await send({"type": "http.response.body", "body": body})

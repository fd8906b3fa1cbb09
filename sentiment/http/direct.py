"""``POST /classify`` answered at the edge for a plainly valid body (PROTOTYPE)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from sentiment.asgi import read_body, replay
from sentiment.config import Settings
from sentiment.lifecycle import live
from sentiment.model.reviews import stripped_if_valid
from sentiment.telemetry.request_ids import REQUEST_ID, fresh_id

JSON = (b"content-type", b"application/json")


class DirectClassify:
    """Prototype: parse, check, batch and answer without BentoML's request path."""

    def __init__(self, factory: Any, settings: Settings, slow: ASGIApp) -> None:
        self.factory = factory
        self.slow = slow
        self.max_body = settings.max_body_bytes
        self.max_texts = settings.max_texts

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, declared: bytes, rid: bytes
    ) -> None:
        if not declared.isdigit() or int(declared) > self.max_body:
            return await self.slow(scope, receive, send)
        body = await read_body(receive, self.max_body)
        texts = self.valid_texts(body.data) if not body.over else None
        if texts is None:
            return await self.slow(scope, replay(body.data, receive), send)
        request_id = rid.decode() if rid else fresh_id()
        token = REQUEST_ID.set(request_id)
        try:
            output = await self.factory.batch_infer("classify", (texts,), {})
        finally:
            REQUEST_ID.reset(token)
        answer = orjson.dumps(output, option=orjson.OPT_SERIALIZE_NUMPY)
        headers = [
            JSON,
            (b"content-length", str(len(answer)).encode()),
            (b"x-model-version", live.active_tag().encode()),
            (b"x-request-id", request_id.encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def valid_texts(self, data: bytes) -> list[str] | None:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            return None
        if type(payload) is not dict or len(payload) != 1:
            return None
        texts = payload.get("texts")
        if type(texts) is not list or not 0 < len(texts) <= self.max_texts:
            return None
        try:
            return stripped_if_valid(texts)
        except TypeError:
            return None

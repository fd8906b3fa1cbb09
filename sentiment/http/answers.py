"""What a model route answers, and its refusals in each protocol's shape.

A handler (:mod:`sentiment.http.handlers`) returns an :class:`Answer` or raises
a :class:`Problem`; the route's error shape renders the problem, one renderer
per shape: :class:`ClassifyErrors` (``/classify``'s and ``/explain``'s
``{"error", "detail", "request_id"}``, the same body as the edge's prebuilt
refusals, :func:`sentiment.http.schemas.error_payload`) and :class:`V2Errors`
(the Open Inference Protocol's ``{"error"}``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from sentiment.http.schemas import error_payload
from sentiment.telemetry.request_ids import current_request_id

Header = tuple[bytes, bytes]


@dataclass(frozen=True)
class Answer:
    """What a handler answers; the edge adds the headers every answer carries.

    Attributes:
        status: the HTTP status.
        body: the JSON body.
        headers: headers of this answer only (``Retry-After``, ``Connection``).
        rules: the rules a refusal names, counted in ``sentiment_rejections_total``.
        logged: the ``/classify`` request and answer the prediction log keeps.
    """

    status: int
    body: bytes
    headers: tuple[Header, ...] = ()
    rules: tuple[str, ...] = ()
    logged: tuple[bytes, bytes] | None = None


class Problem(Exception):
    """A refusal a handler raises; its route's error shape renders it.

    ``detail`` lists the broken rules with where they are (pydantic's errors);
    without it, the refusal names one rule, ``rule``.
    """

    def __init__(
        self,
        status: int,
        rule: str,
        message: str,
        detail: list[dict[str, Any]] | None = None,
        headers: tuple[Header, ...] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.rule = rule
        self.message = message
        self.detail = detail
        self.headers = headers

    @property
    def rules(self) -> tuple[str, ...]:
        """Each rule the refusal names."""
        if not self.detail:
            return (self.rule,)
        return tuple(str(item.get("type", "invalid")) for item in self.detail)


class ErrorShape(Protocol):
    """How one protocol renders a refusal."""

    def render(self, problem: Problem) -> Answer:
        """The answer that refuses with ``problem``."""


class ClassifyErrors:
    """``{"error", "detail", "request_id"}``: ``/classify``'s and ``/explain``'s."""

    def render(self, problem: Problem) -> Answer:
        """The refusal with every broken rule and the request ID."""
        payload = error_payload(
            problem.rule, problem.message, current_request_id(), problem.detail
        )
        body = json.dumps(payload).encode()
        return Answer(problem.status, body, problem.headers, problem.rules)


class V2Errors:
    """``{"error": "..."}``: the Open Inference Protocol's, one line."""

    def render(self, problem: Problem) -> Answer:
        """The refusal as one message naming each rule and its item."""
        body = json_compact({"error": v2_message(problem)})
        return Answer(problem.status, body, problem.headers, problem.rules)


def v2_message(problem: Problem) -> str:
    """A refusal in V2's words, one line (REST's ``error``, gRPC's status details)."""
    if problem.detail is None:
        return problem.message
    return "; ".join(map(v2_problem, problem.detail)) or problem.message


def v2_problem(item: dict[str, Any]) -> str:
    """One broken rule in V2's words: the review's index in the input tensor."""
    loc = [part for part in item.get("loc", []) if part not in ("body", "texts")]
    where = f" at inputs[0].data[{loc[0]}]" if loc and isinstance(loc[0], int) else ""
    return f"{item.get('type', 'invalid')}{where}: {item.get('msg', '')}"


def json_compact(payload: dict[str, Any]) -> bytes:
    """JSON as Starlette's JSONResponse renders it (compact, UTF-8)."""
    return json.dumps(
        payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    ).encode("utf-8")

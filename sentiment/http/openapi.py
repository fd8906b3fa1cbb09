"""Correct BentoML's OpenAPI spec: the error bodies the model routes send, their body.

The request bodies themselves (each review's length and pattern, the list's
bounds) are generated from :mod:`sentiment.http.schemas`; BentoML leaves them
optional, which they are not.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

from sentiment.http.schemas import ErrorBody

ERROR_RESPONSES = {
    "400": "Invalid input: each broken rule with the item it concerns",
    "401": "Missing or wrong API key (only when API_KEY is set)",
    "413": "Request body over SENTIMENT_MAX_BODY_BYTES",
    "415": "Content-Type is not application/json",
    "429": "This API key's tenant is over its share while others wait, or over "
    "its rate_per_s; retry after Retry-After seconds",
    "503": "Overloaded: could not be served within the queueing budget; retry "
    "after Retry-After seconds",
    "504": "The request's own X-Request-Timeout-Ms could not be met, or the whole "
    "request took longer than SENTIMENT_TIMEOUT_S",
    "500": "A failure of the server's own (its log has the request_id)",
}
NOT_ANSWERED = ("404",)  # BentoML declares it; a model route never sends it


def error_schemas() -> dict[str, Any]:
    """``Error`` and the models it refers to, as OpenAPI component schemas."""
    schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    nested = schema.pop("$defs", {})
    return {"Error": schema, **nested}


def corrected_spec(spec: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
    """A copy of BentoML's spec with the real error responses of ``paths`` declared.

    BentoML declares ``detail`` as a string and lists 404; the service answers
    every refusal with :class:`~sentiment.http.schemas.ErrorBody` instead. It also
    leaves the request body optional, but a request without one is a 400
    (``missing``): a client or fuzzer that believed the spec would send it.
    """
    fixed = copy.deepcopy(spec)
    fixed.setdefault("components", {}).setdefault("schemas", {}).update(error_schemas())
    for path in paths:
        if path in fixed["paths"]:
            post = fixed["paths"][path]["post"]
            declare_errors(post)
            if "requestBody" in post:
                post["requestBody"]["required"] = True
    return fixed


def declare_errors(post: dict[str, Any]) -> None:
    """Replace one operation's error responses with the real ones, in place."""
    responses = {
        str(status): body
        for status, body in post["responses"].items()
        if str(status) not in NOT_ANSWERED
    }
    for status, description in ERROR_RESPONSES.items():
        responses[status] = {
            "description": description,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
            },
        }
    post["responses"] = responses


def service_spec(
    service: Any, model_routes: Iterable[str]
) -> Callable[[], dict[str, Any]]:
    """``GET /docs.json`` of ``service``: BentoML's spec, the model routes' errors real.

    ``model_routes``: the service's model routes; those BentoML documents (its
    APIs' routes) get the error bodies the edge answers with.
    """
    paths = tuple(model_routes)
    return lambda: corrected_spec(service.openapi_spec.asdict(), paths)

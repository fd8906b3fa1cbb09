"""The model routes' handlers: a request body in, an :class:`Answer` out.

Each handler reads its protocol's body, checks the reviews with the rules of
:mod:`sentiment.model.reviews`, calls the model through BentoML's batching (or
its thread, for ``/explain``) and renders the answer; its refusals take its
protocol's error shape (:mod:`sentiment.http.answers`).

A plainly valid ``{"texts": [...]}`` is parsed with orjson and checked over the
whole batch at once; anything else is read by the API's own pydantic model,
which only names what broke (the same 400 BentoML gave, byte for byte). The edge
(:mod:`sentiment.http.edge`) reads the body and writes what every answer carries.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from bentoml.exceptions import BentoMLException
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.types import Scope

from sentiment import leases
from sentiment.config import Settings
from sentiment.errors import SentimentError, TensorError
from sentiment.http.answers import (
    Answer,
    ClassifyErrors,
    ErrorShape,
    Header,
    Problem,
    V2Errors,
)
from sentiment.http.refusals import (
    OVERLOAD_RETRY_S,
    batching_shed_message,
    retry_after,
)
from sentiment.http.schemas import Explanation
from sentiment.http.v2_codec import (
    BINARY_REFUSAL,
    InferRequest,
    infer_response,
    parse_infer,
)
from sentiment.http.v2_plain import plain_infer
from sentiment.lifecycle import live
from sentiment.model.reviews import stripped_if_valid

ModelCall = Callable[..., Awaitable[Any]]
BINARY_HEADER = b"inference-header-content-length"
EXPLANATIONS = TypeAdapter(list[Explanation])


class Handler(Protocol):
    """A model route's handler (module docstring)."""

    errors: ErrorShape

    async def __call__(self, body: bytes, scope: Scope) -> Answer:
        """Answer one request's ``body``; raise :class:`Problem` to refuse it."""


def invalid(error: ValidationError) -> Problem:
    """A 400 naming each broken rule and its item, as BentoML words it."""
    return Problem(
        400,
        "invalid",
        f"{error.error_count()} validation error for {error.title}",
        [
            dict(item)
            for item in error.errors(include_context=False, include_input=False)
        ],
    )


class Reviews:
    """The texts of a ``{"texts": [...]}`` body, checked by the review rules.

    Args:
        model: the API's input model, which names what broke.
        max_texts: the most reviews one request may carry.
    """

    def __init__(self, model: type[BaseModel], max_texts: int) -> None:
        self.model = model
        self.max_texts = max_texts

    def from_json(self, body: bytes) -> list[str]:
        """The stripped texts of a JSON body.

        Raises:
            Problem: a 400 naming every broken rule and item.
        """
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
        if type(payload) is dict and len(payload) == 1:
            texts = self.valid(payload.get("texts"))
            if texts is not None:
                return texts
        try:
            return list(self.model.model_validate_json(body or b"{}").texts)  # type: ignore[attr-defined]
        except ValidationError as error:
            raise invalid(error) from None

    def from_list(self, texts: list[str]) -> list[str]:
        """``texts`` (already strings) stripped, or a 400 naming what broke."""
        valid = self.valid(texts)
        if valid is not None:
            return valid
        try:
            return list(self.model.model_validate({"texts": texts}).texts)  # type: ignore[attr-defined]
        except ValidationError as error:
            raise invalid(error) from None

    def valid(self, texts: Any) -> list[str] | None:
        """Stripped texts when all keep the rules (checked at once), else None."""
        if type(texts) is not list or not 0 < len(texts) <= self.max_texts:
            return None
        try:
            return stripped_if_valid(texts)
        except TypeError:  # an item is not a string
            return None


class Scoring:
    """The model's answers to checked texts, through BentoML's batching.

    Args:
        batch: the ``classify`` API's batched call (``BentoApis.batched``).
        max_latency_ms: BentoML's batching budget, named in its 503.
    """

    def __init__(self, batch: ModelCall, max_latency_ms: int) -> None:
        self.batch = batch
        self.shed_message = batching_shed_message(max_latency_ms)

    async def __call__(self, texts: list[str]) -> list[dict[str, Any]]:
        """Score ``texts`` in the next batch.

        Raises:
            Problem: 504 past its deadline in the queue, 503 shed by the batching.
        """
        try:
            predictions: list[dict[str, Any]] = await self.batch(texts)
        except SentimentError as error:  # e.g. its deadline passed in the queue
            raise self.problem(error.status, error.rule, str(error)) from None
        except BentoMLException:  # the dispatcher shed it: it could not be in time
            retry = (retry_after(OVERLOAD_RETRY_S),)
            raise self.problem(503, "overloaded", self.shed_message, retry) from None
        return predictions

    @staticmethod
    def problem(
        status: int, rule: str, message: str, headers: tuple[Header, ...] = ()
    ) -> Problem:
        """A refusal naming its rule in ``detail`` (V2 words it ``rule: message``)."""
        detail = [{"type": rule, "loc": [], "msg": message}]
        return Problem(status, rule, message, detail, headers)


class Classify:
    """``POST /classify``: a label, a score and probabilities per review."""

    errors: ErrorShape = ClassifyErrors()

    def __init__(self, reviews: Reviews, scoring: Scoring) -> None:
        self.reviews = reviews
        self.scoring = scoring

    async def __call__(self, body: bytes, scope: Scope) -> Answer:
        """The predictions, in input order."""
        predictions = await self.scoring(self.reviews.from_json(body))
        answer = orjson.dumps(predictions, option=orjson.OPT_SERIALIZE_NUMPY)
        return Answer(200, answer, logged=(body, answer))


class Explain:
    """``POST /explain``: the n-grams that pushed each review toward each label.

    Args:
        explain: the ``explain`` API run on BentoML's thread (``BentoApis.threaded``).
        model: its input model (``texts`` and ``top``).
    """

    errors: ErrorShape = ClassifyErrors()

    def __init__(self, explain: ModelCall, model: type[BaseModel]) -> None:
        self.explain = explain
        self.model = model

    async def __call__(self, body: bytes, scope: Scope) -> Answer:
        """The explanations, or 400/409 naming why not."""
        try:
            request = self.model.model_validate_json(body or b"{}")
        except ValidationError as error:
            raise invalid(error) from None
        try:
            explained = await self.explain(**dict(request))
        except BentoMLException as error:  # too long (400), not explainable (409)
            status = error.error_code.value
            if status >= 500:
                raise
            rule = getattr(error, "rule", f"http_{status}")
            raise Problem(status, rule, str(error)) from None
        checked = EXPLANATIONS.validate_python(explained)
        return Answer(200, EXPLANATIONS.dump_json(checked))


class V2Infer:
    """The Open Inference Protocol's ``POST /v2/models/{name}/infer``.

    One ``BYTES`` tensor of reviews in (:mod:`sentiment.http.v2_codec`), the
    same checks and batching as ``/classify``, ``label``, ``score`` and
    ``probabilities`` tensors out.
    """

    errors: ErrorShape = V2Errors()

    def __init__(
        self, reviews: Reviews, scoring: Scoring, model_name: str, logs: bool = False
    ) -> None:
        self.reviews = reviews
        self.scoring = scoring
        self.model_name = model_name
        self.logs = logs  # the prediction log is on: hand it the /classify request

    async def __call__(self, body: bytes, scope: Scope) -> Answer:
        """The output tensors, or a 400 naming the field or the review."""
        if any(name == BINARY_HEADER for name, _ in scope["headers"]):  # lower-cased
            raise Problem(400, TensorError.rule, BINARY_REFUSAL)
        try:
            request = plain_infer(body) or parse_infer(body)
        except TensorError as error:
            raise Problem(error.status, error.rule, str(error)) from None
        payload, logged = await self.infer(request)
        return Answer(200, orjson.dumps(payload), logged=logged)

    async def infer(
        self, request: InferRequest
    ) -> tuple[dict[str, Any], tuple[bytes, bytes] | None]:
        """The data plane, no transport: a read request in, its output tensors out.

        REST (above) and gRPC (:mod:`sentiment.rpc`) both answer through it: the
        same review rules, batching and tensors. Returns the response payload
        and what the prediction log keeps (None: no log).

        Raises:
            Problem: a review broke a rule, or the batching refused it.
        """
        lease = leases.current()
        if request.timeout_us is not None and lease is not None:
            lease.tighten(time.monotonic() + request.timeout_us / 1e6)
        version = live.active_version()
        predictions = await self.scoring(self.reviews.from_list(request.texts))
        payload = infer_response(predictions, request, self.model_name, version)
        logged = None
        if self.logs:
            logged = (
                orjson.dumps({"texts": request.texts}),
                orjson.dumps(predictions, option=orjson.OPT_SERIALIZE_NUMPY),
            )
        return payload, logged


class ModelApis(Protocol):
    """What a handler needs of BentoML's APIs (:class:`sentiment.patches.BentoApis`)."""

    def batched(self, name: str) -> ModelCall:
        """API ``name``'s call through its batching dispatcher."""

    def threaded(self, name: str) -> ModelCall:
        """API ``name`` run on BentoML's thread."""

    def input_model(self, name: str) -> type[BaseModel]:
        """API ``name``'s input model."""


def classify(apis: ModelApis, settings: Settings) -> Classify:
    """``/classify``'s handler over the ``classify`` API."""
    reviews = Reviews(apis.input_model("classify"), settings.max_texts)
    return Classify(reviews, Scoring(apis.batched("classify"), settings.max_latency_ms))


def explain(apis: ModelApis, settings: Settings) -> Explain:
    """``/explain``'s handler over the ``explain`` API."""
    return Explain(apis.threaded("explain"), apis.input_model("explain"))


def v2_infer(apis: ModelApis, settings: Settings) -> V2Infer:
    """V2 infer's handler over the ``classify`` API, as ``/classify``'s."""
    reviews = Reviews(apis.input_model("classify"), settings.max_texts)
    scoring = Scoring(apis.batched("classify"), settings.max_latency_ms)
    logs = settings.prediction_log is not None
    return V2Infer(reviews, scoring, settings.model_name, logs)

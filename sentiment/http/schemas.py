"""The bodies of the HTTP API, as pydantic models, and the review type they check.

The review rules themselves are :mod:`sentiment.model.reviews`: the same rules
decide what the API refuses and what ``train.py`` drops, and the same module
says them as the JSON schema of a review, which is what ``/docs.json`` shows.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StrictStr,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    model_serializer,
)
from pydantic_core import PydanticCustomError

from sentiment.model.reviews import (
    EXAMPLE_TEXTS,
    MAX_CHARS,
    MIN_CHARS,
    review_pattern,
    review_problem,
    stripped_if_valid,
)


def check_review(text: str) -> str:
    """Validate one review and return it stripped.

    Raises:
        PydanticCustomError: typed with the rule's name
            (:func:`sentiment.model.reviews.review_problem`).
    """
    if problem := review_problem(text):
        raise PydanticCustomError(*problem)
    return text.strip()


# What /docs.json says of a review, so clients and fuzzers send what is checked;
# only the spec: pydantic enforces none of it, check_review keeps the 400 bodies.
REVIEW_SCHEMA = {
    "type": "string",
    "minLength": MIN_CHARS,
    "maxLength": MAX_CHARS,
    "pattern": review_pattern(),
}
Review = Annotated[
    StrictStr, AfterValidator(check_review), WithJsonSchema(REVIEW_SCHEMA)
]


def batch_checker(max_texts: int) -> WrapValidator:
    """Check a whole list of reviews at once; item by item only when one breaks.

    The common request, a list of valid strings, is checked in one pass
    (:func:`sentiment.model.reviews.stripped_if_valid`) instead of a Python
    validator per text; anything else goes to the per-item validation
    (``handler``), which names each rule and item index exactly as before.
    """

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if type(value) is list and 1 <= len(value) <= max_texts:
            try:
                stripped = stripped_if_valid(value)
            except TypeError:  # an item that is not a string: named below
                stripped = None
            if stripped is not None:
                return stripped
        return handler(value)

    return WrapValidator(check)


def reviews_type(max_texts: int) -> Any:
    """A request's ``texts`` type: 1 to ``max_texts`` valid reviews."""
    return Annotated[
        list[Review],
        Field(
            min_length=1,
            max_length=max_texts,
            description=f"1 to {max_texts} reviews, each {MIN_CHARS}-{MAX_CHARS} "
            "characters and not just a number",
            examples=[EXAMPLE_TEXTS],
        ),
        batch_checker(max_texts),
    ]


class Prediction(BaseModel):
    """The classifier's answer for one review."""

    label: str = Field(description="the most probable of the model's labels")
    score: float = Field(
        ge=0, le=1.0, description="probability of `label` (0.5 and up for two labels)"
    )
    probabilities: dict[str, float]


class Contribution(BaseModel):
    """One feature's push toward a label, in logit units."""

    feature: str = Field(description="the n-gram(s) of this text behind the feature")
    kind: Literal["word", "char", "lexicon"]
    weight: float = Field(ge=0, description="coefficient x TF-IDF value, as a push")


class Component(BaseModel):
    """One linear component: its logit is its intercept plus all contributions.

    Beside its fields, one list of :class:`Contribution` per label it pushes
    toward (``positive`` and ``negative`` for the sentiment model).
    """

    model_config = ConfigDict(extra="allow")

    name: str
    share: float = Field(
        ge=0, le=1, description="how much of the text this component decides"
    )
    intercept: float
    logit: float

    @model_serializer(mode="wrap")
    def _labels_first(self, handler: SerializerFunctionWrapHandler) -> Any:
        """The label lists first, then the fields.

        The order the sentiment model's answer has always had (``positive``,
        ``negative``, ``name``, ``share``, ``intercept``, ``logit``).
        """
        data = handler(self)
        labels = self.__pydantic_extra__ or {}
        rest = {k: v for k, v in data.items() if k not in labels}
        return {**{k: data[k] for k in labels}, **rest}


class Explanation(BaseModel):
    """Why the model labelled one review as it did."""

    label: str
    score: float = Field(ge=0, le=1.0)
    contributions: dict[str, list[Contribution]] = Field(
        description="per label, the features that pushed hardest toward it"
    )
    components: list[Component]


class BrokenRule(BaseModel):
    """One rule a request broke, and where."""

    model_config = ConfigDict(title="BrokenRule")

    type: str = Field(title="Rule", description="e.g. review_too_short")
    loc: list[str | int] = Field(title="Where: field and item index")
    msg: str


class ErrorBody(BaseModel):
    """The body of every refusal (400/401/413/415/503)."""

    model_config = ConfigDict(title="Error")

    error: str = Field(title="Message")
    detail: list[BrokenRule] = Field(default_factory=list, title="Broken rules")
    request_id: str | None = Field(
        default=None, description="the X-Request-ID of the request, for the logs"
    )


def error_payload(
    rule: str,
    message: str,
    request_id: str | None = None,
    detail: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The JSON body of a refusal: one broken rule, or pydantic's ``detail`` as is.

    As is: pydantic's items keep their ``url``, as BentoML's 400 bodies had them.
    """
    if detail is not None:
        return {"error": message, "detail": detail, "request_id": request_id}
    body = ErrorBody(
        error=message,
        detail=[BrokenRule(type=rule, loc=[], msg=message)],
        request_id=request_id,
    )
    return body.model_dump()


TOP_FEATURES = Annotated[
    int, Field(ge=1, le=20, description="features to show per label (1-20)")
]

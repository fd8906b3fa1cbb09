"""One error base: each error raised on purpose carries its HTTP status and rule.

A leaf (it imports nothing from the package). :class:`SentimentError` is a
``BentoMLException`` carrying the status, so BentoML itself answers with it when
one escapes an API, and a command line reports it as one line. The edge renders
one as a prebuilt refusal (:meth:`sentiment.http.refusals.Refusal.of`), file jobs
as their failure (:func:`sentiment.jobs.runner.job_failure`), V2 as its
``{"error"}`` body; each keeps its protocol's shape.
"""

from __future__ import annotations

from http import HTTPStatus

from bentoml.exceptions import BentoMLException


class SentimentError(BentoMLException):
    """Base of the package's errors: a one-line message, an HTTP status, a rule.

    Args:
        message: what is wrong and, where it helps, how to fix it.
        status: the HTTP status (default: the class's).
        rule: the machine-readable name of the broken rule (default: the class's).
    """

    status: int = HTTPStatus.INTERNAL_SERVER_ERROR
    rule: str = "internal_error"

    def __init__(
        self, message: str, *, status: int | None = None, rule: str | None = None
    ) -> None:
        if status is not None:
            self.status = status
        if rule is not None:
            self.rule = rule
        super().__init__(message, error_code=HTTPStatus(self.status))


class StartupError(SentimentError):
    """The service cannot start; the message says why and how to fix it."""

    rule = "cannot_start"


class SettingsError(StartupError, ValueError):
    """An environment variable holds a value the service cannot use."""

    rule = "bad_setting"


class TrainingError(SentimentError):
    """A problem with the training input, reported as one line and exit code 2."""

    status = HTTPStatus.BAD_REQUEST
    rule = "bad_training_data"


class ScoringError(SentimentError):
    """The input cannot be scored; the message is one line saying why."""

    status = HTTPStatus.BAD_REQUEST
    rule = "bad_table"


class LimitExceeded(ScoringError):
    """Reading a table passed one of its read limits (rows, inflated bytes)."""

    rule = "table_too_large"


class TensorError(SentimentError, ValueError):
    """A V2 request this service cannot answer; the message says why."""

    status = HTTPStatus.BAD_REQUEST
    rule = "bad_tensor"


class UploadError(SentimentError, ValueError):
    """An upload refused before BentoML sees it (400 or 415, naming the rule)."""

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(message, status=status, rule=rule)


class DeadlineExceeded(SentimentError):
    """The request's own deadline passed before the model reached it."""

    passed = "the request's X-Request-Timeout-Ms passed"  # the batching queue's

    status = HTTPStatus.GATEWAY_TIMEOUT
    rule = "deadline_exceeded"

"""sentiment.errors: one base, each error with its status and rule."""

from __future__ import annotations

import pytest
from bentoml.exceptions import BentoMLException

from sentiment import errors


@pytest.mark.parametrize(
    ("error", "status", "rule"),
    [
        (errors.StartupError("no model"), 500, "cannot_start"),
        (errors.SettingsError("bad env"), 500, "bad_setting"),
        (errors.TrainingError("no rows"), 400, "bad_training_data"),
        (errors.ScoringError("no column"), 400, "bad_table"),
        (errors.LimitExceeded("too many rows"), 400, "table_too_large"),
        (errors.TensorError("not BYTES"), 400, "bad_tensor"),
        (errors.UploadError(415, "not_multipart", "send a file"), 415, "not_multipart"),
    ],
)
def test_every_error_carries_its_status_and_rule(
    error: errors.SentimentError, status: int, rule: str
) -> None:
    assert isinstance(error, errors.SentimentError)
    assert isinstance(error, BentoMLException), "BentoML answers with its status"
    assert (error.status, error.rule, int(error.error_code)) == (status, rule, status)


def test_settings_errors_stop_the_service_like_any_startup_error() -> None:
    assert issubclass(errors.SettingsError, errors.StartupError)
    assert issubclass(errors.SettingsError, ValueError)


def test_an_instance_may_name_another_status_and_rule() -> None:
    error = errors.ScoringError("over the cap", status=413, rule="too_big")
    assert (error.status, error.rule) == (413, "too_big")
    assert errors.ScoringError("x").status == 400, "the class default is unchanged"

"""Unit tests for sentiment.config: settings from the environment."""

from __future__ import annotations

import pytest

from sentiment.config import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(Settings.model_fields):
        monkeypatch.delenv(f"SENTIMENT_{name.upper()}", raising=False)
    monkeypatch.delenv("API_KEY", raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.model_tag is None  # production, else the newest
    assert (settings.model_name, settings.model_poll_s) == ("sentiment", 2.0)
    assert (settings.workers, settings.max_texts, settings.batching) == (2, 256, True)


def test_read_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_MODEL_TAG", "sentiment:v1")
    monkeypatch.setenv("SENTIMENT_WORKERS", "3")
    monkeypatch.setenv("SENTIMENT_MAX_BATCH_SIZE", "64")
    monkeypatch.setenv("SENTIMENT_MAX_LATENCY_MS", " 250 ")
    monkeypatch.setenv("SENTIMENT_MAX_TEXTS", "10")
    monkeypatch.setenv("SENTIMENT_RECYCLE_EVERY", "0")
    monkeypatch.setenv("SENTIMENT_WORKERS_TYPO", "ignored")
    settings = load_settings()
    assert (settings.model_tag, settings.workers, settings.max_batch_size) == (
        "sentiment:v1",
        3,
        64,
    )
    assert (settings.max_latency_ms, settings.max_texts) == (250, 10)
    assert settings.recycle_every == 0


def test_empty_value_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_WORKERS", "")
    assert load_settings().workers == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", False), ("off", False), ("No", False), ("1", True), ("true", True)],
)
def test_flags(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("SENTIMENT_BATCHING", raw)
    monkeypatch.setenv("SENTIMENT_TRACING", raw)
    settings = load_settings()
    assert settings.batching is expected and settings.tracing is expected


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SENTIMENT_WORKERS", "two", "valid integer"),
        ("SENTIMENT_WORKERS", "0", "greater than 0"),
        ("SENTIMENT_RECYCLE_EVERY", "-1", "greater than or equal to 0"),
        ("SENTIMENT_ACCESS_LOG", "maybe", "valid boolean"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert f"{name}={value!r}" in message and words in message
    assert "\n" not in message


def test_api_key_is_read_and_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_KEY", " s3cret ")
    settings = load_settings()
    assert settings.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)

"""Unit tests for sentiment.config: settings from the environment."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sentiment.config import (
    NOT_SETTINGS,
    Settings,
    check_environment,
    known_variables,
    load_settings,
)
from sentiment.errors import SettingsError

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SENTIMENT_"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("API_KEY", raising=False)


def test_defaults() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.model_tag is None  # production, else the newest
    assert (settings.model_name, settings.model_poll_s) == ("sentiment", 2.0)
    assert (settings.workers, settings.max_texts, settings.tracing) == (2, 256, False)


def test_read_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_MODEL_TAG", "sentiment:v1")
    monkeypatch.setenv("SENTIMENT_WORKERS", "3")
    monkeypatch.setenv("SENTIMENT_MAX_BATCH_SIZE", "64")
    monkeypatch.setenv("SENTIMENT_MAX_LATENCY_MS", " 250 ")
    monkeypatch.setenv("SENTIMENT_MAX_TEXTS", "10")
    monkeypatch.setenv("SENTIMENT_RECYCLE_EVERY", "0")
    monkeypatch.setenv("UNRELATED_WORKERS", "not ours: ignored")
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
    monkeypatch.setenv("SENTIMENT_ACCESS_LOG", raw)
    monkeypatch.setenv("SENTIMENT_TRACING", raw)
    settings = load_settings()
    assert settings.access_log is expected and settings.tracing is expected


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


@pytest.mark.parametrize("name", ["SENTIMENT_API_KEY", "API_KEY"])
def test_api_key_is_read_under_both_names_and_hidden(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, " s3cret ")
    settings = load_settings()
    assert settings.api_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_the_same_key_under_both_names_is_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_API_KEY", "s3cret")
    monkeypatch.setenv("API_KEY", "s3cret ")
    assert load_settings().api_key.get_secret_value() == "s3cret"


def test_two_different_keys_stop_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIMENT_API_KEY", "new-s3cret")
    monkeypatch.setenv("API_KEY", "old-s3cret")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "SENTIMENT_API_KEY and API_KEY are both set and differ" in message
    assert "s3cret" not in message  # the keys themselves are never printed


@pytest.mark.parametrize(
    ("typo", "nearest"),
    [
        ("SENTIMENT_MAX_BACH_SIZE", "SENTIMENT_MAX_BATCH_SIZE"),
        ("SENTIMENT_WORKER", "SENTIMENT_WORKERS"),
        ("SENTIMENT_APIKEY", "SENTIMENT_API_KEY"),
        ("sentiment_max_in_fligth", "SENTIMENT_MAX_IN_FLIGHT"),
    ],
)
def test_a_mistyped_setting_stops_the_start_naming_the_nearest(
    monkeypatch: pytest.MonkeyPatch, typo: str, nearest: str
) -> None:
    monkeypatch.setenv(typo, "8")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert f"unknown setting {typo} (did you mean {nearest}?)" in message
    assert "\n" not in message


def test_every_unknown_setting_is_named_on_one_line() -> None:
    environ = {"SENTIMENT_MAX_BACH_SIZE": "8", "SENTIMENT_QQQ": "1", "PATH": "/bin"}
    with pytest.raises(SettingsError) as info:
        check_environment(environ)
    message = str(info.value)
    assert "SENTIMENT_MAX_BACH_SIZE (did you mean SENTIMENT_MAX_BATCH_SIZE?)" in message
    assert "unknown setting SENTIMENT_QQQ (no setting is close)" in message
    assert "PATH" not in message and "\n" not in message


def test_every_setting_and_every_allowed_name_passes_the_check() -> None:
    environ = {f"SENTIMENT_{field.upper()}": "x" for field in Settings.model_fields}
    check_environment({**environ, **dict.fromkeys(NOT_SETTINGS, "x")})


def test_every_sentiment_variable_the_project_uses_is_known() -> None:
    # A name set by deploy/ or read by bench/, devtools/, ... must not be refused.
    sources = [
        path
        for folder in ("bench", "deploy", "devtools", "loadtests", "ops", "scripts")
        for path in (PROJECT_DIR / folder).rglob("*")
        if path.suffix in {".py", ".yaml", ".yml", ".json", ".sh", ".lua"}
    ]
    sources += [PROJECT_DIR / name for name in ("Makefile", "service.py", "score.py")]
    sources.append(PROJECT_DIR / "train.py")
    assert any(path.parent.name == "ops" for path in sources), "the scan reads ops/"
    used = {
        name
        for path in sources
        for name in re.findall(r"\bSENTIMENT_[A-Z0-9_]+", path.read_text())
    }
    assert used, "the scan found the project's settings"
    assert used - set(known_variables()) == set()

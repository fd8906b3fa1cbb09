"""Runtime settings, read once from ``SENTIMENT_*`` environment variables.

The service builds one :class:`Settings` at import and passes it to whatever
needs it; nothing else in the package reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    SecretStr,
    ValidationError,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot use."""


class Settings(BaseSettings):
    """Serving knobs: field F is env var ``SENTIMENT_F`` (docs/api.md lists them)."""

    model_config = SettingsConfigDict(
        env_prefix="SENTIMENT_",
        env_ignore_empty=True,
        str_strip_whitespace=True,
        frozen=True,
        extra="ignore",
    )

    model_tag: str | None = None
    model_name: str = "sentiment"
    model_poll_s: NonNegativeFloat = 2.0
    shadow_tag: str | None = None
    shadow_sample: float = Field(default=1.0, gt=0.0, le=1.0)
    shadow_duty: float = Field(default=0.05, gt=0.0, le=1.0)
    workers: PositiveInt = 2
    max_batch_size: PositiveInt = 256
    max_latency_ms: PositiveInt = 1_000
    max_texts: PositiveInt = 256
    batching: bool = True
    recycle_every: NonNegativeInt = 32
    access_log: bool = False
    tracing: bool = False
    max_in_flight: PositiveInt = 64
    max_queue_wait_ms: PositiveInt = 750
    refuse_after_ms: PositiveInt = 2_000
    max_queue: PositiveInt = 4_096
    quick_refusal_share: NonNegativeFloat = 0.0
    gc_threshold: PositiveInt = 10_000
    max_body_bytes: PositiveInt = 1 << 20
    timeout_s: PositiveInt = 10
    dispatch: Literal["idle", "cork"] = "idle"
    max_file_bytes: PositiveInt = 100 * 10**6
    log_format: Literal["text", "json"] = "text"
    prediction_log: Path | None = None
    log_text: bool = False
    log_salt: SecretStr = SecretStr("")
    prediction_log_max_bytes: PositiveInt = 100 << 20
    role: Literal["online", "jobs", "all"] = "all"
    jobs_url: str = ""
    online_url: str = ""
    api_key: SecretStr = Field(default=SecretStr(""), validation_alias="API_KEY")


def load_settings() -> Settings:
    """Read the settings from the environment.

    Raises:
        SettingsError: one line naming each bad variable and what it must be.
    """
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{env_name(error['loc'])}={error['input']!r}: {error['msg']}"
            for error in exc.errors()
        )
        raise SettingsError(f"bad environment: {problems}") from None


def env_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable behind a settings field."""
    field = str(loc[0]) if loc else "?"
    if field == "API_KEY":
        return field
    return f"SENTIMENT_{field.upper()}"

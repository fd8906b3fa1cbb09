"""Runtime settings, read once from ``SENTIMENT_*`` environment variables.

The service builds one :class:`Settings` at import and passes it to whatever
needs it; nothing else in the package reads the environment.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    SecretStr,
    ValidationError,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from sentiment.errors import SettingsError


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
    recycle_every: NonNegativeInt = 32
    access_log: bool = False
    tracing: bool = False
    max_in_flight: PositiveInt = 64
    in_flight_target_ms: NonNegativeInt = 12
    min_in_flight: PositiveInt = 32
    max_queue_wait_ms: PositiveInt = 750
    refuse_after_ms: PositiveInt = 2_000
    max_queue: PositiveInt = 4_096
    tenants_file: Path | None = None
    gc_threshold: PositiveInt = 10_000
    max_body_bytes: PositiveInt = 1 << 20
    timeout_s: PositiveInt = 10
    dispatch: Literal["idle", "cork"] = "idle"
    max_file_bytes: PositiveInt = 50 * 10**6
    max_inflated_bytes: PositiveInt = 100 * 10**6
    max_rows: PositiveInt = 1_000_000
    max_columns: PositiveInt = 100
    max_jobs: PositiveInt = 2
    job_retention_s: PositiveInt = 3_600
    csv_escape: bool = True
    explain_max_chars: PositiveInt = 20_000
    prediction_log_queue_bytes: PositiveInt = 64 << 20
    log_format: Literal["text", "json"] = "text"
    prediction_log: Path | None = None
    log_text: bool = False
    log_salt: SecretStr = SecretStr("")
    prediction_log_max_bytes: PositiveInt = 100 << 20
    role: Literal["online", "jobs", "all"] = "all"
    jobs_url: str = ""
    online_url: str = ""
    # The Open Inference Protocol over gRPC: unset, the HTTP port + 1; 0: off.
    grpc_port: int | None = Field(default=None, ge=0, le=65_535)
    # SENTIMENT_API_KEY like every other setting; API_KEY, its first name, still works.
    api_key: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("SENTIMENT_API_KEY", "API_KEY"),
    )


# SENTIMENT_* variables the project reads outside Settings, so the unknown-variable
# check must not refuse them. Today every SENTIMENT_* variable the repo reads (bench/,
# devtools/, deploy/) is a Settings field; add a name here only with its reader.
NOT_SETTINGS: frozenset[str] = frozenset()
PREFIX = "SENTIMENT_"


def known_variables() -> list[str]:
    """Every ``SENTIMENT_*`` name the project knows, settings first."""
    fields = [f"{PREFIX}{name.upper()}" for name in Settings.model_fields]
    return [*fields, *sorted(NOT_SETTINGS - set(fields))]


def check_environment(environ: Mapping[str, str]) -> None:
    """Refuse ``SENTIMENT_*`` typos and a key given twice under two names.

    Settings ignores unknown variables, so ``SENTIMENT_MAX_BACH_SIZE=8`` would
    start a server with the default batch size and no word said.

    Raises:
        SettingsError: one line naming each unknown variable and its nearest
            known name, or saying the two key variables differ.
    """
    known = known_variables()
    problems = []
    for name in sorted(environ):
        # pydantic-settings matches names case-insensitively; so does this check.
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in known:
            continue
        # Compare what follows the prefix: the shared prefix makes anything "close".
        nearest = difflib.get_close_matches(
            upper.removeprefix(PREFIX),
            [name.removeprefix(PREFIX) for name in known],
            n=1,
            cutoff=0.6,
        )
        hint = (
            f"did you mean {PREFIX}{nearest[0]}?" if nearest else "no setting is close"
        )
        problems.append(f"unknown setting {name} ({hint})")
    new_key, old_key = environ.get("SENTIMENT_API_KEY"), environ.get("API_KEY")
    if new_key and old_key and new_key.strip() != old_key.strip():
        problems.append(
            "SENTIMENT_API_KEY and API_KEY are both set and differ: set only one"
        )
    if problems:
        raise SettingsError(
            "bad environment: " + "; ".join(problems) + " (docs/api.md lists them)"
        )


def load_settings() -> Settings:
    """Read the settings from the environment.

    Raises:
        SettingsError: one line naming each bad or unknown variable and what it
            must be.
    """
    check_environment(os.environ)
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
    if field in ("API_KEY", "SENTIMENT_API_KEY"):
        return field
    return f"SENTIMENT_{field.upper()}"


def bentoml_home() -> Path:
    """BentoML's home (``BENTOML_HOME``, else ``~/bentoml``), found as BentoML finds it.

    The one lookup: the model store, the task store and the job records live
    under it.
    """
    return Path(os.environ.get("BENTOML_HOME", Path.home() / "bentoml"))

"""Tenants: who sends a request, by the API key it carries, and their share.

``SENTIMENT_TENANTS_FILE`` names a JSON file::

    {"tenants": {"batch": {"key_sha256": "<hex sha256 of the key>", "weight": 1},
                 "web": {"key": "plain-key-for-tests", "weight": 3,
                         "max_in_flight": 32, "rate_per_s": 500}}}

Clients send ``Authorization: Bearer <key>``. ``SENTIMENT_API_KEY`` (or
``API_KEY``) keeps working as the tenant ``default``, weight 1. With neither, the
service is open and every request is ``default``'s. The key's sha256 is compared
with every tenant's in constant time (no early exit); a key is never logged and
never a metric label: the tenant's configured name is, so labels stay bounded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentiment.config import Settings
from sentiment.errors import SettingsError

DEFAULT = "default"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"  # a metric label: short and plain
BEARER = b"bearer "
MAX_TENANTS = 64  # per-tenant series and the scheduler's per-decision work


class TenantSpec(BaseModel):
    """One tenant as the file gives it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    key: str | None = Field(default=None, min_length=1)
    weight: float = Field(default=1.0, gt=0, le=1000)
    max_in_flight: int | None = Field(default=None, ge=1)
    rate_per_s: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def one_key(self) -> TenantSpec:
        """Exactly one of ``key_sha256`` and ``key``."""
        if (self.key_sha256 is None) == (self.key is None):
            raise ValueError("give exactly one of key_sha256 and key")
        return self

    def digest(self) -> bytes:
        """The sha256 of the key, as bytes."""
        if self.key is not None:
            return hashlib.sha256(self.key.encode()).digest()
        return bytes.fromhex(self.key_sha256 or "")


class TenantsFile(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenants: dict[str, TenantSpec] = Field(min_length=1, max_length=MAX_TENANTS)


@dataclass(frozen=True)
class Tenant:
    """A tenant the scheduler serves: its name, weight and optional limits."""

    name: str
    weight: float = 1.0
    max_in_flight: int | None = None
    rate_per_s: float | None = None
    digest: bytes | None = None  # sha256 of its key; None: needs no key


class TenantTable:
    """The configured tenants; finds a request's tenant from its Authorization."""

    def __init__(self, tenants: list[Tenant]) -> None:
        self.tenants = tenants
        self.keyed = [(i, t.digest) for i, t in enumerate(tenants) if t.digest]
        self.open = not self.keyed  # no key anywhere: everyone is tenant 0

    def find(self, authorization: bytes) -> int | None:
        """The index of the tenant whose key this is (None: no such key).

        Every digest is compared, whichever matches, so the time taken does not
        tell which tenant (or how much of a key) was close.
        """
        if self.open:
            return 0
        if authorization[:7].lower() != BEARER:
            return None
        digest = hashlib.sha256(authorization[7:]).digest()
        found = None
        for index, expected in self.keyed:
            if hmac.compare_digest(digest, expected) and found is None:
                found = index
        return found

    def names(self) -> list[str]:
        """The tenants' names, in index order."""
        return [tenant.name for tenant in self.tenants]


def load_tenants(settings: Settings) -> TenantTable:
    """The tenants from ``SENTIMENT_TENANTS_FILE`` and the single API key.

    Raises:
        SettingsError: one line naming the file and what is wrong in it.
    """
    key = settings.api_key.get_secret_value()
    default = Tenant(
        DEFAULT, digest=hashlib.sha256(key.encode()).digest() if key else None
    )
    path = settings.tenants_file
    if path is None:
        return TenantTable([default])
    specs = read_file(path)
    tenants = [] if not key else [default]
    for name, spec in specs.tenants.items():
        tenants.append(
            Tenant(
                name, spec.weight, spec.max_in_flight, spec.rate_per_s, spec.digest()
            )
        )
    problems = check(tenants)
    if problems:
        raise SettingsError(f"bad SENTIMENT_TENANTS_FILE {path}: {'; '.join(problems)}")
    return TenantTable(tenants)


def read_file(path: Path) -> TenantsFile:
    """Parse and validate the file (one-line SettingsError otherwise)."""
    where = f"bad SENTIMENT_TENANTS_FILE {path}"
    try:
        raw = json.loads(path.read_text())
    except OSError as error:
        raise SettingsError(f"{where}: cannot read it ({error.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SettingsError(f"{where}: not JSON ({error})") from None
    try:
        return TenantsFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'the file'}: {error['msg']}"
            for error in exc.errors()
        )
        raise SettingsError(f"{where}: {problems}") from None


def check(tenants: list[Tenant]) -> list[str]:
    """Names that are not plain labels, a name or a key used twice."""
    problems = []
    seen_names: set[str] = set()
    seen_keys: dict[bytes, str] = {}
    for tenant in tenants:
        if not re.match(NAME_PATTERN, tenant.name):
            problems.append(
                f"tenant name {tenant.name!r} must match {NAME_PATTERN} "
                "(it is a metric label)"
            )
        if tenant.name in seen_names:
            problems.append(
                f"tenant {tenant.name!r} is named twice (the API key is 'default')"
            )
        seen_names.add(tenant.name)
        if tenant.digest in seen_keys:
            problems.append(
                f"tenants {seen_keys[tenant.digest]!r} and {tenant.name!r} share a key"
            )
        if tenant.digest:
            seen_keys[tenant.digest] = tenant.name
    return problems

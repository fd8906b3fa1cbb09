"""sentiment.http.tenants: the tenants file, the API key as tenant ``default``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from sentiment.config import Settings
from sentiment.errors import SettingsError
from sentiment.http.tenants import DEFAULT, load_tenants

KEY_A, KEY_B = "key-of-a", "key-of-b"


def tenants_file(tmp_path: Path, tenants: object) -> Path:
    path = tmp_path / "tenants.json"
    path.write_text(json.dumps({"tenants": tenants}))
    return path


def bearer(key: str) -> bytes:
    return f"Bearer {key}".encode()


def test_keys_by_sha256_or_plain_find_their_tenant(tmp_path: Path) -> None:
    digest = hashlib.sha256(KEY_A.encode()).hexdigest()
    path = tenants_file(
        tmp_path,
        {
            "batch": {"key_sha256": digest, "weight": 1},
            "web": {"key": KEY_B, "weight": 3, "max_in_flight": 8, "rate_per_s": 50},
        },
    )
    table = load_tenants(Settings(tenants_file=path))
    assert table.names() == ["batch", "web"]
    assert table.find(bearer(KEY_A)) == 0
    assert table.find(bearer(KEY_B)) == 1
    assert table.find(b"bearer " + KEY_B.encode()) == 1, "the scheme is any case"
    assert table.find(bearer("nope")) is None
    assert table.find(KEY_A.encode()) is None, "the key alone is not a bearer token"
    assert table.find(b"") is None
    web = table.tenants[1]
    assert (web.weight, web.max_in_flight, web.rate_per_s) == (3, 8, 50)


def test_the_api_key_is_the_tenant_default_beside_the_file(tmp_path: Path) -> None:
    path = tenants_file(tmp_path, {"batch": {"key": KEY_A}})
    table = load_tenants(Settings(tenants_file=path, API_KEY="single"))
    assert table.names() == [DEFAULT, "batch"]
    assert table.find(bearer("single")) == 0 and table.find(bearer(KEY_A)) == 1


def test_without_keys_everyone_is_default() -> None:
    table = load_tenants(Settings())
    assert table.names() == [DEFAULT] and table.find(b"") == 0
    keyed = load_tenants(Settings(API_KEY="k"))
    assert keyed.find(bearer("k")) == 0 and keyed.find(b"") is None


SECRET = "s3cret-value"


@pytest.mark.parametrize(
    ("tenants", "message"),
    [
        ({"a": {"weight": 1}}, "exactly one of key_sha256 and key"),
        ({"a": {"key": SECRET, "key_sha256": "0" * 64}}, "exactly one"),
        ({"a": {"key_sha256": "xyz"}}, "tenants.a.key_sha256"),
        ({"a": {"key": SECRET, "weight": 0}}, "tenants.a.weight"),
        ({"a": {"key": SECRET, "wieght": 2}}, "tenants.a.wieght"),
        ({"A b": {"key": SECRET}}, "must match"),
        ({"a": {"key": SECRET}, "b": {"key": SECRET}}, "share a key"),
        ({"default": {"key": SECRET}}, "named twice"),
        ({}, "tenants"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_problem(
    tmp_path: Path, tenants: object, message: str
) -> None:
    path = tenants_file(tmp_path, tenants)
    with pytest.raises(SettingsError) as caught:
        load_tenants(Settings(tenants_file=path, API_KEY="k"))
    text = str(caught.value)
    assert "\n" not in text and str(path) in text and message in text
    assert SECRET not in text, "a key is never repeated in an error"


def test_a_missing_or_broken_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read it"):
        load_tenants(Settings(tenants_file=tmp_path / "none.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(SettingsError, match="not JSON"):
        load_tenants(Settings(tenants_file=broken))

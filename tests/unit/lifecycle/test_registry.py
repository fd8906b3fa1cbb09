"""Unit tests for the production pointer, its audit log and the serving choice."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from sentiment.lifecycle import registry


@pytest.fixture
def name() -> Iterator[str]:
    """A model name with no pointer yet, cleaned up after."""
    import shutil

    name = "unit-registry"
    yield name
    shutil.rmtree(registry.store_dir(name), ignore_errors=True)


def test_nothing_promoted_serves_the_newest(name: str) -> None:
    assert registry.production_tag(name) is None
    choice = registry.serving_choice(None, name)
    assert (choice.tag, choice.reason) == (f"{name}:latest", "newest")
    assert choice.follows_production


def test_a_pinned_tag_wins_and_does_not_follow(name: str) -> None:
    registry.set_production(name, f"{name}:a", "promote")
    choice = registry.serving_choice(f"{name}:pinned", name)
    assert (choice.tag, choice.reason) == (f"{name}:pinned", "pinned")
    assert not choice.follows_production


def test_promotions_move_the_pointer_and_are_audited(name: str) -> None:
    registry.set_production(name, f"{name}:a", "promote", "sha-1")
    registry.set_production(name, f"{name}:b", "promote", "sha-2")
    assert registry.production_tag(name) == f"{name}:b"
    assert registry.serving_choice(None, name).reason == "production"
    log = registry.audit_log(name)
    assert [(e["action"], e["from"], e["to"]) for e in log] == [
        ("promote", None, f"{name}:a"),
        ("promote", f"{name}:a", f"{name}:b"),
    ]
    assert log[1]["report_sha256"] == "sha-2" and log[1]["time"].endswith("Z")
    lines = (registry.store_dir(name) / registry.AUDIT_LOG).read_text().splitlines()
    assert [json.loads(line)["to"] for line in lines] == [f"{name}:a", f"{name}:b"]


def test_rollback_walks_back_one_promotion_at_a_time(name: str) -> None:
    for version in "abc":
        registry.set_production(name, f"{name}:{version}", "promote")
    assert registry.previous_production(name) == f"{name}:b"
    registry.set_production(name, f"{name}:b", "rollback")
    assert registry.previous_production(name) == f"{name}:a"
    registry.set_production(name, f"{name}:a", "rollback")
    assert registry.previous_production(name) is None


def test_the_store_lists_no_pointer_files(name: str) -> None:
    import bentoml

    registry.set_production(name, f"{name}:a", "promote")
    assert not [m for m in bentoml.models.list() if m.tag.name == name]


def test_a_bento_serves_the_model_packed_in_it(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.set_production(name, f"{name}:a", "promote")
    monkeypatch.setattr(registry, "in_bento", lambda: True)
    choice = registry.serving_choice(None, name)
    assert (choice.tag, choice.reason) == (f"{name}:latest", "packed")
    assert not choice.follows_production
    assert registry.serving_choice(f"{name}:x", name).reason == "pinned"


def test_the_session_store_is_not_a_bento() -> None:
    assert registry.in_bento() is False


def test_an_empty_store_adopts_the_model_just_saved(name: str) -> None:
    assert registry.adopt_serving_model(name, None, f"{name}:first") == f"{name}:first"
    assert registry.production_tag(name) == f"{name}:first"
    assert registry.audit_log(name)[-1]["action"] == "adopt"
    # Production is set now: a second training leaves it alone.
    assert registry.adopt_serving_model(name, f"{name}:first", f"{name}:b") is None
    assert registry.production_tag(name) == f"{name}:first"


def test_a_store_without_a_pointer_adopts_what_served_not_the_new_model(
    name: str,
) -> None:
    # Without a pointer the newest served; the model just saved stays a candidate.
    assert registry.adopt_serving_model(name, f"{name}:old", f"{name}:new") == (
        f"{name}:old"
    )
    assert registry.production_tag(name) == f"{name}:old"


def test_the_first_promotion_after_adoption_can_be_rolled_back(name: str) -> None:
    registry.adopt_serving_model(name, None, f"{name}:first")
    entry = registry.set_production(name, f"{name}:second", "promote")
    assert entry["from"] == f"{name}:first"
    assert registry.previous_production(name) == f"{name}:first"

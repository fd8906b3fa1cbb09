"""Unit tests for the live swap: a worker follows the pointer, refuses bad models."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from sentiment.config import Settings
from sentiment.errors import StartupError
from sentiment.lifecycle import live, loading, registry
from sentiment.lifecycle.loading import LoadedModel

NAME = "unit-live"


def fake_model(
    tag: str, classes: tuple[str, ...] = ("negative", "positive")
) -> LoadedModel:
    def predict_proba(texts: list[str]) -> np.ndarray:
        return np.tile([0.3, 0.7], (len(texts), 1))

    return LoadedModel(None, predict_proba, list(classes), {"tag": tag}, None)


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[live.LiveModel]:
    """A LiveModel serving NAME:a, loading fakes by tag."""
    import shutil

    def load(tag: str, settings: Settings) -> LoadedModel:
        if tag.endswith(":corrupt"):  # as the store check reports it
            raise StartupError(f"cannot serve model {tag}: sha256 differs")
        if tag.endswith(":odd"):  # the real warm-up: three labels, two columns
            loading.warm_up(fake_model(tag, ("neg", "neutral", "pos")))
        return fake_model(tag)

    monkeypatch.setattr(loading, "load_tag", load)
    registry.set_production(NAME, f"{NAME}:a", "promote")
    settings = Settings(model_name=NAME)
    yield live.LiveModel(
        fake_model(f"{NAME}:a"), registry.serving_choice(None, NAME), settings
    )
    shutil.rmtree(registry.store_dir(NAME), ignore_errors=True)


def test_no_change_no_swap(worker: live.LiveModel) -> None:
    assert worker.poll() is False
    assert worker.current.tag == f"{NAME}:a"
    assert worker.info()["production"] is True


def test_a_promotion_is_swapped_in(worker: live.LiveModel) -> None:
    before = worker.current
    registry.set_production(NAME, f"{NAME}:b", "promote")
    assert worker.info()["production"] is False  # until the poll
    assert worker.poll() is True
    assert worker.current.tag == f"{NAME}:b" and worker.current is not before
    assert worker.info()["production"] is True
    assert worker.info()["chosen_by"] == "production"
    assert worker.poll() is False  # once


@pytest.mark.parametrize("bad", ["corrupt", "odd"])
def test_a_model_failing_its_checks_is_refused_once(
    worker: live.LiveModel, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry.set_production(NAME, f"{NAME}:{bad}", "promote")
    assert worker.poll() is False
    assert worker.poll() is False
    assert worker.current.tag == f"{NAME}:a"
    refusals = [r for r in caplog.records if "swap refused" in r.getMessage()]
    assert len(refusals) == 1 and f"{NAME}:{bad}" in refusals[0].getMessage()
    registry.set_production(NAME, f"{NAME}:c", "promote")  # a good one still swaps
    assert worker.poll() is True and worker.current.tag == f"{NAME}:c"


def test_warm_up_refuses_a_broken_answer() -> None:
    model = fake_model("m:1")
    model.predict_proba = lambda texts: np.full((len(texts), 2), np.nan)
    with pytest.raises(StartupError, match="not finite"):
        loading.warm_up(model)


def test_active_tag_names_the_worker_model(
    worker: live.LiveModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "ACTIVE", None)
    assert live.active_tag() == ""
    monkeypatch.setattr(live, "ACTIVE", worker)
    assert live.active_tag() == f"{NAME}:a"

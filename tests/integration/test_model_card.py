"""`make model-card` on the session's trained model: Markdown and the plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops import model_card
from sentiment.model.metadata import Checks


def test_the_card_prints_and_plots(
    trained_model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "card.png"
    assert model_card.main(["--model", trained_model, "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# Model card: {trained_model}")
    assert "expected calibration error (10 bins): 0.0" in out
    assert "## Reliability" in out and "## Accuracy by length" in out
    assert "English movie reviews only" in out
    assert "## Behaviour" in out and "| negated_negative |" in out
    assert "## Accuracy and behaviour" in out and "95% interval" in out
    assert "- checks: cross-validation, calibration, behaviour suite (all)" in out
    assert png.read_bytes().startswith(b"\x89PNG")


def test_an_unknown_model_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert model_card.main(["--model", "sentiment:nosuchmodel"]) == 2
    assert "no model" in capsys.readouterr().err


def test_behaviour_rates_below_target_are_marked() -> None:
    lines = model_card.behaviour_lines(
        {"plain": 0.96, "negated_negative": 0.5, "intensifiers": 0.9}
    )
    assert "| plain | 96.0% | 95% |" in lines
    assert "| negated_negative | 50.0% | 70% **below** |" in lines
    assert "| intensifiers | 90.0% |  |" in lines
    assert model_card.behaviour_lines(None) == []


def test_accuracy_stands_with_its_interval_beside_the_behaviour() -> None:
    lines = model_card.accuracy_and_behaviour_lines(
        0.79, 1660, {"plain": 0.93, "negated_negative": 0.52}
    )
    low, high = model_card.wilson_interval(0.79, 1660)
    assert 0.769 < low < 0.79 < high < 0.81
    assert f"| 0.7900 | {low:.4f}-{high:.4f} |" in lines[5]
    assert "| behaviour: plain | 93.0% | |" in lines
    assert "| behaviour: negated_negative | 52.0% | |" in lines


def test_a_quick_model_s_card_names_the_checks_it_has_not_had() -> None:
    quick = Checks(cross_validation=False, calibration=True, behaviour=False)
    line = model_card.checks_line(quick)
    assert "not checked yet: cross-validation, behaviour suite" in line
    assert "`make train`" in line
    full = Checks(cross_validation=True, calibration=True, behaviour=True)
    assert model_card.checks_line(full).endswith("(all)")

"""`make model-card` on the session's trained model: Markdown and the plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops import model_card


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

"""Unit tests for bench.behaviour: the targets table and the CLI's errors."""

from __future__ import annotations

import pytest

from bench.behaviour import TARGETS, main, targets_table


def test_targets_table_marks_what_is_below() -> None:
    rates = dict(TARGETS)
    table, met = targets_table(rates)
    assert met and "BELOW" not in table
    rates["contrast"] = TARGETS["contrast"] - 0.01
    table, met = targets_table(rates)
    assert not met
    assert [line.split()[0] for line in table.splitlines() if "BELOW" in line] == [
        "contrast"
    ]


def test_a_missing_model_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--model", "no-such-model:v1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("behaviour: error:") and err.count("\n") == 1

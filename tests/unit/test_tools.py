"""Unit tests for devtools.tools: one rule for a missing system tool."""

from __future__ import annotations

import pytest

from devtools import tools
from devtools.tools import TOOLS, Tool, install_command, missing_packages, require


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools.shutil, "which", lambda command: None)


def test_a_missing_tool_skips_naming_the_install_outside_ci(
    monkeypatch: pytest.MonkeyPatch, nothing_installed: None
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        require("chromium", "chromedriver")
    reason = str(info.value)
    assert "NO CHROMIUM, CHROMEDRIVER" in reason
    assert "`apt-get install -y chromium chromium-driver`" in reason
    assert "scripts/system-deps.sh" in reason


def test_a_missing_tool_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, nothing_installed: None
) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception) as info:
        require("wrk")
    assert "`apt-get install -y wrk`" in str(info.value)


def test_present_tools_give_their_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TOOLS, "sh", Tool("sh", ("dash",), "nothing"))
    monkeypatch.setattr(tools.shutil, "which", lambda command: f"/usr/bin/{command}")
    assert require("sh", "wrk") == ["/usr/bin/sh", "/usr/bin/wrk"]


def test_missing_packages_are_listed_once_each(
    monkeypatch: pytest.MonkeyPatch, nothing_installed: None
) -> None:
    monkeypatch.setattr(tools, "venv_missing", lambda: True)
    packages = missing_packages()
    assert packages.count("prometheus") == 1  # prometheus and promtool share it
    assert {"wrk", "chromium-driver", "default-jre-headless"} <= set(packages)
    assert packages[-1] == "python3-venv"


def test_the_setup_script_prints_nothing_when_all_is_installed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(tools.shutil, "which", lambda command: f"/usr/bin/{command}")
    monkeypatch.setattr(tools, "venv_missing", lambda: False)
    assert tools.main() == 0
    assert capsys.readouterr().out == ""


def test_install_command_names_each_package_once() -> None:
    assert install_command(["prometheus", "wrk", "prometheus"]) == (
        "apt-get install -y prometheus wrk"
    )


def test_named_tools_only_when_some_are_named(
    monkeypatch: pytest.MonkeyPatch, nothing_installed: None
) -> None:
    monkeypatch.setattr(tools, "venv_missing", lambda: False)
    assert missing_packages(["wrk"]) == ["wrk"]  # what `make bench` installs


def test_an_unknown_tool_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert tools.main(["nope"]) == 2
    assert "no such tool: nope" in capsys.readouterr().err

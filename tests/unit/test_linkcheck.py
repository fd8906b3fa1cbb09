"""Unit tests for devtools.linkcheck: broken files and anchors are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.linkcheck import broken_links, main, slug


def test_slug_is_githubs_anchor() -> None:
    assert slug("Behaviour beyond accuracy (`make behaviour`)") == (
        "behaviour-beyond-accuracy-make-behaviour"
    )
    assert slug("Scale out (Kubernetes)") == "scale-out-kubernetes"


def test_broken_files_and_anchors_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Some topic\n")
    page = tmp_path / "README.md"
    page.write_text(
        "# Top\n"
        "[ok](docs/a.md#some-topic) [self](#top) [web](https://example.org/x)\n"
        "[gone](docs/b.md) [bad anchor](docs/a.md#nope) [bad self](#nowhere)\n"
        "```\n[in code](not/checked.md)\n```\n"
    )
    problems = broken_links(page)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "docs/b.md: no such file",
        "docs/a.md#nope: no heading #nope",
        "#nowhere: no heading #nowhere",
    ]
    assert all(":3:" in p for p in problems)


def test_the_projects_docs_have_no_broken_links(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 0, capsys.readouterr().out

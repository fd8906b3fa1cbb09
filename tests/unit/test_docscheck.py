"""Unit tests for devtools.docscheck: the settings table and make targets match."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.docscheck import (
    LAYOUT_PAGE,
    layout_modules,
    layout_problems,
    main,
    make_target_problems,
    makefile_targets,
    setting_names,
    settings_table_problems,
)


def settings_page(tmp_path: Path, names: list[str]) -> Path:
    rows = "".join(f"| `{name}` | unset | something |\n" for name in names)
    page = tmp_path / "api.md"
    page.write_text(
        "# API\n\n## Configuration\n\nText.\n\n"
        "| variable | default | meaning |\n| --- | --- | --- |\n"
        f"{rows}\n## Next\n\n| `NOT_IN_THE_TABLE` | x | y |\n"
    )
    return page


def test_every_setting_is_a_row_and_every_row_a_setting(tmp_path: Path) -> None:
    documented = [names[0] for names in setting_names().values()]
    page = settings_page(tmp_path, [*documented, "BENTOML_HOME"])
    assert settings_table_problems(page) == []


def test_a_missing_setting_and_an_unknown_row_are_reported(tmp_path: Path) -> None:
    documented = [names[0] for names in setting_names().values()]
    rows = [n for n in documented if n != "SENTIMENT_MAX_FILE_BYTES"]
    page = settings_page(tmp_path, [*rows, "SENTIMENT_MAX_BACH_SIZE"])
    assert settings_table_problems(page) == [
        "api.md: setting SENTIMENT_MAX_FILE_BYTES (Settings.max_file_bytes) "
        "is not in the table",
        f"api.md:{9 + len(rows)}: SENTIMENT_MAX_BACH_SIZE is not a setting of "
        "sentiment.config.Settings",  # rows start on line 9
    ]


def test_the_key_is_documented_under_its_new_name() -> None:
    assert setting_names()["api_key"] == ["SENTIMENT_API_KEY", "API_KEY"]


def test_make_targets_named_as_code_must_exist(tmp_path: Path) -> None:
    makefile = tmp_path / "Makefile"
    makefile.write_text(
        "PORT ?= 3000\nlint_missing = echo x\n"
        "serve: model ## Serve\n\tbentoml serve\nmodel:\n\ttrue\n"
    )
    page = tmp_path / "README.md"
    page.write_text(
        "Run `make serve` or `make serve PORT=1`, then `make nope`.\n"
        "Make sure to make things work.\n"
        "```bash\nmake model\nmake gone  # comment\n```\n"
    )
    targets = makefile_targets(makefile)
    assert targets == {"serve", "model"}
    assert make_target_problems([page], targets) == [
        "README.md:1: `make nope` is no Makefile target",
        "README.md:5: `make gone` is no Makefile target",
    ]


def test_the_projects_docs_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main() == 0, capsys.readouterr().out


TREE = """# Layout

```
service.py        the root
pkg/              the package
  leaf.py           a leaf
  sub/              a subpackage
    mod.py            a module, with a description that
                      wraps onto a second line
  top.py            back at the top
ops/              not the package
  tool.py           ignored
```
"""


def test_the_layout_tree_names_modules_by_their_folder() -> None:
    assert layout_modules(TREE, package="pkg") == {"leaf.py", "sub/mod.py", "top.py"}


def test_the_real_layout_lists_every_module_of_the_package() -> None:
    assert layout_problems() == []


def test_a_module_missing_from_the_tree_is_a_problem(tmp_path: Path) -> None:
    page = tmp_path / "layout.md"
    text = LAYOUT_PAGE.read_text()
    page.write_text(text.replace("    hashing.py", "    renamed.py", 1))
    problems = layout_problems(page)
    assert "layout.md: sentiment/features/hashing.py is not in the layout tree" in (
        problems
    )
    assert any("features/renamed.py, which does not exist" in p for p in problems)

"""Check the docs against the code: the settings table and the make targets.

- Every field of :class:`sentiment.config.Settings` is a row of docs/api.md's
  settings table, under its environment variable, and every row of that table is a
  setting (or one of :data:`OTHER_VARIABLES`).
- Every ``make <target>`` that README.md and docs/*.md name exists in the Makefile.
- Every module under ``sentiment/`` has its line in docs/layout.md's tree, and
  every module the tree names exists (packages' ``__init__.py`` excepted).

Usage: ``python -m devtools.docscheck`` (``make lint`` runs it beside
``devtools.linkcheck``). Prints one line per problem and exits 1.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from pydantic import AliasChoices

from devtools.linkcheck import prose_lines
from sentiment.config import PREFIX, Settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
LAYOUT_PAGE = PROJECT_DIR / "docs" / "layout.md"
PACKAGE = "sentiment"
TREE_ENTRY = re.compile(r"^( *)(\S+)")
API_PAGE = PROJECT_DIR / "docs" / "api.md"
SETTINGS_HEADING = "## Configuration"
# Table rows that are not settings of the service: BentoML's own store variable.
OTHER_VARIABLES = frozenset({"BENTOML_HOME"})
# `make x ...` in inline code, or a code block's line that starts with make.
INLINE_MAKE = re.compile(r"`make ([a-z0-9][a-z0-9-]*)[^`]*`")
BLOCK_MAKE = re.compile(r"^\s*make ([a-z0-9][a-z0-9-]*)")
MAKEFILE_TARGET = re.compile(r"^([a-z0-9][a-z0-9-]*)\s*:(?!=)", flags=re.M)


def setting_names() -> dict[str, list[str]]:
    """Each field's environment variables, the documented name first."""
    names = {}
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names[field] = [str(choice) for choice in alias.choices]
        elif isinstance(alias, str):
            names[field] = [alias]
        else:
            names[field] = [f"{PREFIX}{field.upper()}"]
    return names


def table_rows(page: Path, heading: str = SETTINGS_HEADING) -> dict[str, list[str]]:
    """``{line: variables}`` of the first table under ``heading``: each row's names.

    A row names its variables in backticks in its first cell, e.g.
    ``| `SENTIMENT_API_KEY` (or `API_KEY`) | unset | ... |``.
    """
    rows: dict[str, list[str]] = {}
    inside = False
    for number, line in prose_lines(page.read_text()):
        if line.startswith("## "):
            inside = line.strip() == heading
            continue
        if not (inside and line.startswith("|")):
            if rows and not line.startswith("|"):
                break  # the table ended
            continue
        first_cell = line.split("|")[1]
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell)
        if names:  # not the header or the --- line
            rows[f"{page.name}:{number}"] = names
    return rows


def settings_table_problems(page: Path = API_PAGE) -> list[str]:
    """Settings missing from the table, and rows that are no setting."""
    rows = table_rows(page)
    if not rows:
        return [f"{page.name}: no settings table under {SETTINGS_HEADING!r}"]
    documented = {name for names in rows.values() for name in names}
    known = {name for names in setting_names().values() for name in names}
    problems = [
        f"{page.name}: setting {names[0]} (Settings.{field}) is not in the table"
        for field, names in setting_names().items()
        if names[0] not in documented
    ]
    problems += [
        f"{where}: {name} is not a setting of sentiment.config.Settings"
        for where, names in rows.items()
        for name in names
        if name not in known | OTHER_VARIABLES
    ]
    return problems


def makefile_targets(makefile: Path = PROJECT_DIR / "Makefile") -> set[str]:
    """The targets a Makefile defines (rules, not variable assignments)."""
    return set(MAKEFILE_TARGET.findall(makefile.read_text()))


def named_targets(text: str) -> list[tuple[int, str]]:
    """``(line, target)`` of every ``make <target>`` shown as code in Markdown."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        pattern = BLOCK_MAKE if fenced else INLINE_MAKE
        found += [(number, target) for target in pattern.findall(line)]
    return found


def make_target_problems(pages: list[Path], targets: set[str]) -> list[str]:
    """One message per ``make <target>`` in ``pages`` that the Makefile lacks."""
    return [
        f"{page.name}:{number}: `make {target}` is no Makefile target"
        for page in pages
        for number, target in named_targets(page.read_text())
        if target not in targets
    ]


def layout_modules(text: str, package: str = PACKAGE) -> set[str]:
    """The modules the layout tree names under ``package/``, as relative paths.

    The tree is the first code block whose line starts with ``package/``; an
    entry's folder is every ``name/`` above it with less indentation.
    """
    modules: set[str] = set()
    folders: list[tuple[int, str]] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("```"):
            if inside:
                break
            continue
        match = TREE_ENTRY.match(line)
        if not match:
            continue
        indent, name = len(match.group(1)), match.group(2)
        if indent == 0:
            inside = name == f"{package}/"
            folders = [(0, package)] if inside else []
            continue
        if not inside:
            continue
        while folders and folders[-1][0] >= indent:
            folders.pop()
        if name.endswith("/"):
            folders.append((indent, name.rstrip("/")))
        elif name.endswith(".py"):
            modules.add("/".join([f for _, f in folders[1:]] + [name]))
    return modules


def package_modules(root: Path = PROJECT_DIR / PACKAGE) -> set[str]:
    """Every module of the package, relative to it (``__init__.py`` excepted)."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*.py")
        if path.name != "__init__.py"
    }


def layout_problems(page: Path = LAYOUT_PAGE) -> list[str]:
    """Modules missing from the layout tree, and tree entries that are no module."""
    documented, actual = layout_modules(page.read_text()), package_modules()
    return [
        f"{page.name}: {PACKAGE}/{module} is not in the layout tree"
        for module in sorted(actual - documented)
    ] + [
        f"{page.name}: the layout tree names {PACKAGE}/{module}, which does not exist"
        for module in sorted(documented - actual)
    ]


def main() -> int:
    """Print every problem; exit 1 if there is one."""
    pages = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
    problems = (
        settings_table_problems()
        + make_target_problems(pages, makefile_targets())
        + layout_problems()
    )
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""Check the docs' relative links: every file exists, every #anchor is a heading.

Usage: ``python -m devtools.linkcheck [FILE ...]`` (default: README.md and
docs/*.md; ``make lint`` runs it). Links to http(s) and mailto are not followed
(the network here reaches PyPI only). Prints one line per broken link and exits 1.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$")
EXTERNAL = ("http://", "https://", "mailto:")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """``(number, line)`` of the lines outside fenced code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced:
            found.append((number, line))
    return found


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings."""
    return {
        slug(match.group(1))
        for _, line in prose_lines(path.read_text())
        if (match := HEADING.match(line))
    }


def broken_links(path: Path) -> list[str]:
    """One message per relative link in ``path`` that leads nowhere."""
    problems = []
    for number, line in prose_lines(path.read_text()):
        for target in LINK.findall(line):
            if target.startswith(EXTERNAL):
                continue
            file_part, _, anchor = target.partition("#")
            destination = (path.parent / file_part).resolve() if file_part else path
            inside = path.is_relative_to(PROJECT_DIR)
            shown = path.relative_to(PROJECT_DIR) if inside else path
            where = f"{shown}:{number}: {target}"
            if not destination.exists():
                problems.append(f"{where}: no such file")
            elif anchor and destination.suffix == ".md":
                if anchor not in anchors(destination):
                    problems.append(f"{where}: no heading #{anchor}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Check the given files (default: the README and docs/); 1 if a link is broken."""
    names = argv if argv else None
    paths = (
        [Path(name).resolve() for name in names]
        if names
        else [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").glob("*.md"))]
    )
    problems = [problem for path in paths for problem in broken_links(path)]
    for problem in problems:
        print(problem)
    print(f"links: {len(paths)} file(s), {len(problems)} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

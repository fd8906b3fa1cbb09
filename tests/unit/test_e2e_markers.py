"""Every end-to-end file is marked ``e2e``, so ``-m "not e2e"`` starts no server."""

from __future__ import annotations

import ast
from pathlib import Path

E2E = Path(__file__).resolve().parents[1] / "e2e"


def marks_e2e(path: Path) -> bool:
    """Whether the module sets ``pytestmark`` to ``pytest.mark.e2e`` (or a list)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            return "pytest.mark.e2e" in ast.unparse(node.value)
    return False


def test_every_e2e_file_carries_the_marker() -> None:
    files = sorted(E2E.glob("test_*.py"))
    assert files
    assert [p.name for p in files if not marks_e2e(p)] == []

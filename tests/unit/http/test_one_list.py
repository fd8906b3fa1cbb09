"""The model's routes are listed once: ``service.MODEL_ROUTES``, nowhere in sentiment/.

A second hand-kept list (the guard's paths, the roles' online paths, the spec's
paths, the tracing exclusions) drifted before: a new model route would get no
413 drain, no model header or no role check, and nothing failed. Every
collection literal in the package that holds a model path fails this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import service
from sentiment.http.routes import V2_INFER

PACKAGE = Path(__file__).resolve().parents[3] / "sentiment"
COLLECTIONS = (ast.List, ast.Tuple, ast.Set, ast.Dict)


def model_path_lists(source: str) -> list[int]:
    """Lines of collection literals in ``source`` that hold a model path."""
    paths = set(service.MODEL_ROUTES) | {"/v2/models/{name}/infer"}
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, COLLECTIONS):
            continue
        items = node.keys if isinstance(node, ast.Dict) else node.elts
        strings = {i.value for i in items if isinstance(i, ast.Constant)}
        if strings & paths:
            found.append(node.lineno)
    return found


def test_no_module_of_the_package_lists_model_paths() -> None:
    lists = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if (lines := model_path_lists(path.read_text()))
    }
    assert lists == {}, "model paths belong in service.MODEL_ROUTES only"


def test_the_check_finds_a_second_list() -> None:
    assert model_path_lists('GUARDED = frozenset({"/classify", "/explain"})') == [1]
    assert model_path_lists('ROUTES = {"/explain": 1}') == [1]
    assert model_path_lists('LIKE = ("/classify_file", "/v2")') == []


def test_v2_infer_is_a_model_route() -> None:
    assert V2_INFER in service.MODEL_ROUTES

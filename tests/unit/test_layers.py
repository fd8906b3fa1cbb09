"""The import graph of ``sentiment/``: every arrow points down a layer, no cycle.

The layers, bottom first, are :data:`LAYERS`; a module may import its own
subpackage and any lower layer, never a higher one. Leaves (the top-level
modules of the bottom layer) import nothing from the package. Imports inside
functions count too: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "sentiment"
# Bottom first. A module's layer is its subpackage, or its own name at the top.
LAYERS: list[set[str]] = [
    {"errors", "files", "asgi", "leases", "image", "__init__"},  # leaves
    {"config"},  # settings from the environment (raises SettingsError)
    {"features", "telemetry"},
    {"patches"},  # BentoML's internals, reached from here (and batching's dispatcher)
    {"batching"},  # the batching policy and the BentoML dispatcher that runs it
    {"model"},
    {"training", "jobs"},
    {"lifecycle"},
    {"http"},
    {"rpc"},  # the Open Inference Protocol over gRPC: into http's admission and V2
    {"client"},  # what users import: BentoML's client with its fix
]
LEAVES = LAYERS[0]


def module_name(path: Path) -> str:
    """``sentiment.http.edge`` for ``sentiment/http/edge.py``."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The ``sentiment.*`` modules ``path`` imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("sentiment")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "sentiment"
        ):
            module = node.module or ""
            for alias in node.names:
                candidate = f"{module}.{alias.name}"
                submodule = PACKAGE.parent / (candidate.replace(".", "/") + ".py")
                found.add(candidate if submodule.exists() else module)
    return found


def graph() -> dict[str, set[str]]:
    """Every module of the package and what it imports from the package."""
    return {
        module_name(path): imports(path) - {module_name(path)}
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def layer_of(module: str) -> int:
    """The index in :data:`LAYERS` of ``sentiment.<part>...``."""
    parts = module.split(".")
    part = parts[1] if len(parts) > 1 else "__init__"
    for index, layer in enumerate(LAYERS):
        if part in layer:
            return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_every_module_is_in_a_layer() -> None:
    for module in graph():
        layer_of(module)


def test_no_import_points_up_a_layer() -> None:
    upward = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert upward == []


def test_leaves_import_nothing_from_the_package() -> None:
    leaves = [m for m in graph() if m.count(".") == 1 and m.split(".")[1] in LEAVES]
    assert leaves, "no leaf found: is PACKAGE right?"
    assert {leaf: graph()[leaf] for leaf in leaves if graph()[leaf]} == {}


def test_packages_do_not_import_each_other_within_a_layer() -> None:
    sideways = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if layer_of(target) == layer_of(module)
        and module.split(".")[:2] != target.split(".")[:2]
    ]
    assert sideways == []


def test_the_import_graph_has_no_cycle() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycle = path[path.index(module) :] + [module]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(edges.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])


MAX_MODULE_LINES = 320  # a module longer than this has two jobs


def test_no_module_is_over_the_line_limit() -> None:
    generated = PACKAGE / "rpc" / "proto"  # `make proto` writes these
    long = {
        str(path.relative_to(PACKAGE)): lines
        for path in PACKAGE.rglob("*.py")
        if generated not in path.parents
        and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"over {MAX_MODULE_LINES} lines: {long}"

"""Which way the imports go: no cycles between the project's modules, no back doors.

The modules are read as text with ``ast`` (nothing is imported), so the test
sees every import: at module level, inside functions, relative or absolute
(only those under ``if TYPE_CHECKING:``, never run, are left out).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> the package it is installed as (pyproject.toml's package-dir)
PACKAGES = {ROOT / "csv2h5": "csv2h5", ROOT / "trainer": "csv2h5.trainer"}
TRAINING_STACK = ("keras", "tensorflow", "jax")
NOT_SHIPPED = ("tests", "scripts")


def _modules() -> dict[str, tuple[Path, bool]]:
    """Every module of the project: dotted name -> (file, is a package's ``__init__``)."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            if ".venv" in path.parts:
                continue
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts = parts[:-1]
            found[".".join([package, *parts])] = (path, is_package)
    return found


MODULES = _modules()


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of ``from <level dots><name> import ...`` written in ``module``."""
    if level == 0:
        return name or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]  # a plain module's relative imports start from its package
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """The nodes under ``if TYPE_CHECKING:``: imports for annotations, never run."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            for child in node.body:
                skipped.update(ast.walk(child))
    return skipped


def _imports(module: str) -> set[str]:
    """Every name ``module`` imports when run (absolute, dotted), at any depth of its code."""
    path, is_package = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped = _type_checking_only(tree)
    names = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node.level, node.module)
            names.add(target)
            # ``from pkg import name`` also imports the module pkg.name when there is one
            names.update(f"{target}.{alias.name}" for alias in node.names if f"{target}.{alias.name}" in MODULES)
    return names


def _project_edges() -> dict[str, set[str]]:
    """module -> the project's modules it imports (itself excluded)."""
    edges = {}
    for module in MODULES:
        targets = set()
        for name in _imports(module):
            # ``import csv2h5.reader.blocks`` runs csv2h5.reader.blocks; an unknown tail
            # (``from .errors import X`` resolved as a module name) falls back to its owner.
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        edges[module] = targets
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_walk_sees_the_project():
    """A guard for the test itself: it found the modules and the imports it must judge."""
    assert {
        "csv2h5",
        "csv2h5.convert",
        "csv2h5.reader",
        "csv2h5.reader.blocks",
        "csv2h5.trainer",
        "csv2h5.trainer.sequence",
    } <= set(MODULES)
    edges = _project_edges()
    assert "csv2h5.errors" in edges["csv2h5.convert"]  # from .errors import ...
    assert "csv2h5.reader.source" in edges["csv2h5.reader.blocks"]  # from .source import ...
    assert "csv2h5.trainer" in edges["csv2h5"]  # inside a function: from .trainer import HDF5Sequence


def test_find_cycle_on_hand_made_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"b"}}) == ["b", "c", "b"]


def test_no_import_cycle():
    cycle = find_cycle(_project_edges())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_shipped_imports_tests_or_scripts(module):
    wrong = sorted(name for name in _imports(module) if name.split(".")[0] in NOT_SHIPPED)
    assert not wrong, f"{module} imports {wrong}: the installed package has neither tests nor scripts"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.startswith("csv2h5.trainer")))
def test_the_converter_never_imports_the_training_stack(module):
    wrong = sorted(name for name in _imports(module) if name.split(".")[0] in TRAINING_STACK)
    assert not wrong, f"{module} imports {wrong}: the converter must run where no training stack is installed"

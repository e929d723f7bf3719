"""The package's import graph keeps the shape DESIGN.md §3 gives it.

Walks every module of ``src/bricobot`` (its source, not importing it) and fails on:

- a module below ``cli/`` importing ``bricobot.cli``, Hydra or OmegaConf (configs are composed at
  the edge; below it, ``bricobot.loading`` builds typed configs from plain data);
- an upward import: ``cli → viewer/evaluation/runtime/training → robots/teleop/policies/envs/
  datasets → motors/cameras/emulation → features/loading/registry/errors``;
- an import cycle, between packages or between modules.

Imports inside functions count (a lazy import hides a dependency, it does not remove it); imports
under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
import collections
import functools
from pathlib import Path

import pytest

import bricobot

SRC = Path(bricobot.__file__).parent

#: DESIGN.md §3, bottom (0) to top (4). A package imports only from its own layer or below.
LAYERS = {
    "__init__": 0,
    "errors": 0,
    "registry": 0,
    "loading": 0,
    "features": 0,
    "hardware": 0,
    "motors": 1,
    "cameras": 1,
    "emulation": 1,
    "robots": 2,
    "teleop": 2,
    "policies": 2,
    "envs": 2,
    "datasets": 2,
    "viewer": 3,
    "evaluation": 3,
    "runtime": 3,
    "training": 3,
    "cli": 4,
}
EDGE_ONLY = ("bricobot.cli", "hydra", "omegaconf")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    return skipped


def imports_of(path: Path) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every import that can run (TYPE_CHECKING ones left out)."""
    tree = ast.parse(path.read_text())
    skipped = _type_checking_nodes(tree)
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.append((target, node.lineno))
            # `from bricobot.x import y` where y is a submodule imports bricobot.x.y too.
            found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
    return found


@functools.cache
def graph() -> dict[str, list[tuple[str, int]]]:
    modules = {module_name(p): p for p in SRC.rglob("*.py")}
    edges: dict[str, list[tuple[str, int]]] = {}
    for name, path in modules.items():
        edges[name] = []
        for target, line in imports_of(path):
            if target.startswith(EDGE_ONLY[1:]) or (target in modules and target != name):
                edges[name].append((target, line))
    return edges


def strongly_connected(nodes: dict[str, set[str]]) -> list[list[str]]:
    """Components with more than one node (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(nodes.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(nodes.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_walk_sees_lazy_and_relative_imports() -> None:
    """The checks below can fail: the walk finds the kinds of import they judge."""
    edges = {m: {t for t, _ in targets} for m, targets in graph().items()}
    assert "bricobot.motors.arm" in edges["bricobot.robots.follower"]  # top-level
    assert "hydra" in {t.split(".")[0] for t in edges["bricobot.cli.app"]}
    lazy = [t for t in edges["bricobot.motors.spec"] if t.startswith("bricobot.motors.feetech")]
    assert lazy, "imports inside functions are part of the graph"


def test_every_package_has_a_layer() -> None:
    packages = {package_of(m) for m in graph()}
    assert packages <= set(LAYERS), f"add to LAYERS (and DESIGN.md §3): {packages - set(LAYERS)}"


def test_nothing_below_the_cli_imports_the_cli_or_hydra() -> None:
    bad = [
        f"{module}:{line} imports {target}"
        for module, targets in graph().items()
        for target, line in targets
        if package_of(module) != "cli" and target.startswith(EDGE_ONLY)
    ]
    assert not bad, "\n".join(bad)


def test_no_upward_imports() -> None:
    bad = []
    for module, targets in graph().items():
        for target, line in targets:
            if not target.startswith("bricobot."):
                continue
            here, there = package_of(module), package_of(target)
            if LAYERS[there] > LAYERS[here]:
                bad.append(f"{module}:{line} imports {target} ({here} is below {there})")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("level", ["package", "module"])
def test_no_import_cycles(level: str) -> None:
    nodes: dict[str, set[str]] = collections.defaultdict(set)
    for module, targets in graph().items():
        for target, _ in targets:
            if not target.startswith("bricobot."):
                continue
            if level == "module":
                nodes[module].add(target)
            elif package_of(module) != package_of(target):
                nodes[package_of(module)].add(package_of(target))
    cycles = strongly_connected(nodes)
    assert not cycles, f"{level} import cycles: {cycles}"

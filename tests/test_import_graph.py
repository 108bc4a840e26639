"""The packages' import structure: no circle among a package's modules (sub-packages included), and the
layers of `ner` (each sub-package imports only the layers below it).

Imports placed inside functions count too: an import moved into a function hides a circle from Python but
not from a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cslib

REPO = Path(__file__).resolve().parents[1]

#: What each sub-package of `ner` may import from the others (its own modules are always allowed).
NER_LAYERS: dict[str, set[str]] = {
    "ner.errors": set(),
    "ner.model": {"ner.errors"},
    "ner.data": {"ner.errors"},
    "ner.inference": {"ner.errors", "ner.model", "ner.data"},
    "ner.integrations": {"ner.errors", "ner.model", "ner.data", "ner.inference"},
    "ner.training": {"ner.errors", "ner.model", "ner.data", "ner.inference"},
    "ner.diagnostics": {"ner.errors", "ner.model", "ner.data", "ner.inference", "ner.training"},
    "ner.cli": {"ner.errors", "ner.model", "ner.data", "ner.inference", "ner.training", "ner.diagnostics"},
}


def _modules(package: str) -> dict[str, Path]:
    """Module name (`ner.training.loop`; `ner.model` for its __init__) -> file, sub-packages included."""
    out = {}
    root = REPO / package
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(module: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import of `module` anywhere in its file, resolved to `known` names."""
    package = module if path.stem == "__init__" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # `from pkg import submodule` imports the submodule; `from pkg import name` imports pkg.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found += [(t, node.lineno) for t in targets if t in known]
    return found


def import_graph(package: str) -> dict[str, dict[str, int]]:
    """module -> {module of the same package it imports: line}."""
    mods = _modules(package)
    return {m: {t: line for t, line in _imported(m, p, set(mods)) if t != m} for m, p in mods.items()}


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One import circle (`[a, b, ..., a]`), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False)) + f" -> {cycle[-1]}"


def layer_of(module: str) -> str | None:
    """The `NER_LAYERS` entry a module belongs to (None: `ner` itself and `ner.__main__`)."""
    return next((layer for layer in NER_LAYERS if module == layer or module.startswith(layer + ".")), None)


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """`module:line imports other` for every import that crosses the layers the wrong way."""
    bad = []
    for module, imports in sorted(graph.items()):
        own = layer_of(module)
        if own is None:
            continue
        for target, line in sorted(imports.items()):
            other = layer_of(target)
            if other is not None and other != own and other not in NER_LAYERS[own]:
                bad.append(f"{module}:{line} imports {target}")
    return bad


def test_cycle_finder_finds_a_circle_and_accepts_a_tree() -> None:
    assert find_cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1, "c": 1}, "b": {"c": 2}, "c": {}}) is None


def test_layer_check_flags_an_upward_import() -> None:
    graph = {"ner.model.grid": {"ner.training.loop": 3, "ner.errors": 1}, "ner.training.loop": {"ner.model.grid": 5}}
    assert layer_violations(graph) == ["ner.model.grid:3 imports ner.training.loop"]


def test_graph_sees_sub_packages() -> None:
    graph = import_graph("ner")
    assert "ner.model.heads.relation" in graph and "ner.training.loop" in graph
    assert "ner.model.heads.base" in graph["ner.model.heads.relation"]


@pytest.mark.parametrize("package", ["cslib", "ner", "pipelines"])
def test_no_import_cycle(package: str) -> None:
    graph = import_graph(package)
    assert len(graph) > 3
    cycle = find_cycle(graph)
    assert cycle is None, f"{package}: import circle {_describe(graph, cycle)}"


def test_ner_layers() -> None:
    """model and data import no other layer; inference not training; training not diagnostics; only cli all."""
    graph = import_graph("ner")
    assert {layer_of(m) for m in graph} >= set(NER_LAYERS)
    assert layer_violations(graph) == []


def test_ner_uses_only_the_public_cslib_api() -> None:
    """docs/shards.md is the contract: ner imports `cslib` (its __all__), never a cslib module."""
    for path in sorted((REPO / "ner").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(REPO)}:{node.lineno}" if hasattr(node, "lineno") else str(path)
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "cslib":
                assert node.module == "cslib", f"{where}: imports {node.module}"
                missing = [a.name for a in node.names if a.name not in cslib.__all__]
                assert not missing, f"{where}: {missing} not in cslib.__all__"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("cslib.") for a in node.names), where


def test_cslib_builds_without_its_inspection_layer() -> None:
    """`cslib.inspection` reads finished shard sets; only the package API, the CLI and `cslib.support` (which
    measures real builds with `stats`) import it."""
    graph = import_graph("cslib")
    assert any(m.startswith("cslib.inspection.") for m in graph)
    users = {m for m, imports in graph.items() if not m.startswith("cslib.inspection")
             and any(t == "cslib.inspection" or t.startswith("cslib.inspection.") for t in imports)}
    assert users == {"cslib", "cslib.cli", "cslib.support"}

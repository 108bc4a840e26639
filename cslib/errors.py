"""User-facing errors: one line, naming the file, line and problem."""

from __future__ import annotations

from pathlib import Path


class CslibError(Exception):
    """An error caused by the user's input or environment, printed as one line by the CLI."""


def at(path: str | Path, line: int | None, problem: str) -> CslibError:
    """Build an error that points at `path:line`, the form editors and terminals link."""
    where = f"{path}:{line}" if line is not None else str(path)
    return CslibError(f"{where}: {problem}")

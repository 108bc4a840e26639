"""User-facing errors: one line, naming the file, line and problem."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar


class UserError(Exception):
    """A mistake in the user's input or environment, never a programming bug.

    The command lines (`cslib.run_cli`) print it as one line, `PROG: error: MESSAGE`, and exit with
    `exit_code`; a subclass may change both (`heading = None` prints `PROG: MESSAGE`). Every error class
    of cslib, ner and pipelines that a command line reports derives from it.
    """

    exit_code: ClassVar[int] = 2
    heading: ClassVar[str | None] = "error"


class CslibError(UserError):
    """An error caused by the user's input or environment, printed as one line by the CLI."""


def at(path: str | Path, line: int | None, problem: str) -> CslibError:
    """Build an error that points at `path:line`, the form editors and terminals link."""
    where = f"{path}:{line}" if line is not None else str(path)
    return CslibError(f"{where}: {problem}")

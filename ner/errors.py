"""User-facing errors of the `ner` tool.

A `NerError` is a mistake in the user's input or environment (a broken shard, a wrong flag
combination, a missing run directory). It is a `cslib.UserError`: the command line prints it as
one line, `ner: error: <msg>`, and exits with status 2, so messages must be self-contained: name the
file, the column or the flag, and what to do about it.
"""

from __future__ import annotations

from cslib import UserError


class NerError(UserError):
    """One-line user error; never used for programming bugs (those keep their traceback)."""


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (library errors can run over many lines)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]

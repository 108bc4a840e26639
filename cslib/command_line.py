"""The command-line convention shared by `cslib`, `ner` and `pipelines`.

Each program builds one argparse parser in which every command has its own builder and sets its
function with `set_defaults(func=...)`, then hands parser and arguments to `run_cli`: it parses, sets
up the program's logging, runs the command and turns a `UserError` or `OSError` into one line on
stderr, `PROG: error: MESSAGE` (exit 2 unless the error class says otherwise), and Ctrl-C into
`PROG: interrupted...` (exit 130).

Options that several commands or programs share are specs: argparse keyword arguments whose help may
contain `{default}`, which `add_option` fills in from the default it is given (taken from a config
dataclass), so a flag has one help text everywhere and `--help` states what the library does.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from .errors import UserError

#: argparse keyword arguments of a shared option; `{default}` in "help" is filled in by `add_option`.
OptionSpec = dict[str, Any]

DATA_ROOT_OPTION: OptionSpec = {"metavar": "DIR", "help": "local data mirror (default $CSLIB_DATA_ROOT)"}
SEED_OPTION: OptionSpec = {"type": int, "metavar": "S", "help": "random seed (default {default})"}
QUIET_OPTION: OptionSpec = {"action": "store_true", "help": "only warnings and errors on stderr"}


def format_default(value: Any) -> str:
    """A default as help texts write it: `1e-3` and `3e-5` rather than `0.001` and `3e-05`."""
    if isinstance(value, float) and value and abs(value) < 0.01:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return str(value)


def parameter_defaults(fn: Callable[..., Any]) -> SimpleNamespace:
    """The defaults of a function's parameters (`parameter_defaults(f).batch_size`), for help texts of
    commands that call `fn` and cannot drift from it."""
    return SimpleNamespace(**{name: p.default for name, p in inspect.signature(fn).parameters.items()
                              if p.default is not inspect.Parameter.empty})


def with_default(spec: OptionSpec, default: Any) -> OptionSpec:
    """`spec` with `{default}` in its help replaced by `default` as help texts write it."""
    return {**spec, "help": spec["help"].format(default=format_default(default))}


_SAME = object()


def add_option(container: argparse._ActionsContainer, flags: str | Sequence[str], spec: OptionSpec,
               default: Any = None, *, absent: Any = _SAME, **extra: Any) -> argparse.Action:
    """Add the shared option `spec` under `flags`; its help states `default`.

    `absent` is what argparse stores when the flag is not given (default: `default`); None leaves the
    value to a config file or to the library, whose default `default` is, and shows whether the flag was
    given (`given`).
    """
    names = [flags] if isinstance(flags, str) else list(flags)
    value = default if absent is _SAME else absent
    return container.add_argument(*names, default=value, **{**with_default(spec, default), **extra})


def add_data_root(container: argparse._ActionsContainer, **extra: Any) -> argparse.Action:
    """`--data-root DIR`, the local data mirror (None: $CSLIB_DATA_ROOT, resolved by the library)."""
    return add_option(container, "--data-root", DATA_ROOT_OPTION, **extra)


def add_seed(container: argparse._ActionsContainer, default: int, **extra: Any) -> argparse.Action:
    """`--seed S`; its help states `default` (`absent=None`: see `add_option`)."""
    return add_option(container, "--seed", SEED_OPTION, default, **extra)


def add_quiet(container: argparse._ActionsContainer) -> argparse.Action:
    """`-q/--quiet`: only warnings and errors on stderr."""
    return add_option(container, ("-q", "--quiet"), QUIET_OPTION, False)


def given(args: argparse.Namespace, dest: str) -> bool:
    """Whether an option whose argparse default is None (or SUPPRESS, or False for a switch) was given."""
    value = getattr(args, dest, None)
    return value is not None and value is not False


def conflict(flag: str, other: str, why: str) -> UserError:
    """The one-line error for `flag` given together with `other`, which it contradicts."""
    return UserError(f"{flag} cannot be used with {other}: {why}")


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (whitespace runs, newlines included, become one space)."""
    return " ".join(str(exc).split()) or type(exc).__name__


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, *,
            setup: Callable[[argparse.Namespace], None] | None = None,
            interrupted: str = "interrupted") -> int:
    """Parse `argv`, call `setup(args)` (the program's logging), then the command `args.func(args)`.

    Returns the command's exit status; a `UserError` prints `PROG: error: MESSAGE` (its class's
    `heading` and `exit_code`, by default `error` and 2), an `OSError` (a missing or unreadable file)
    the same with 2, Ctrl-C `PROG: INTERRUPTED` with 130. PROG is `parser.prog`. Usage errors stay
    argparse's (usage line, exit 2).
    """
    args = parser.parse_args(argv)
    prog = parser.prog
    try:
        if setup is not None:
            setup(args)
        return int(args.func(args) or 0)
    except UserError as exc:
        heading = f"{exc.heading}: " if exc.heading else ""
        print(f"{prog}: {heading}{one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130

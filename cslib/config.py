"""Config objects from an optional YAML file plus command-line flags (flags win)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import CslibError
from .textio import read_text_file

T = TypeVar("T")


def load_config(cls: type[T], yaml_path: str | Path | None, overrides: dict[str, Any]) -> T:
    """Build `cls` from YAML then non-None overrides; unknown YAML keys are an error."""
    values: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    if yaml_path:
        path = Path(yaml_path)
        try:
            raw = yaml.safe_load(read_text_file(path)) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise CslibError(f"{path}:{mark.line + 1 if mark else '?'}: invalid YAML") from None
        if not isinstance(raw, dict):
            raise CslibError(f"{path}: expected a mapping of config keys")
        unknown = sorted(str(k) for k in set(raw) - names)
        if unknown:
            raise CslibError(f"{path}: unknown config key(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(names))})")
        values.update(raw)
    values.update({k: v for k, v in overrides.items() if v is not None and k in names})
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise CslibError(f"invalid config{f' in {yaml_path}' if yaml_path else ''}: {exc}") from None

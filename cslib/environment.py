"""What xner reads from its environment: installed package versions and the cache folder."""

from __future__ import annotations

import os
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

ENV_CACHE_ROOT = "XNER_CACHE_DIR"


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each package in `names` (distribution names); absent ones are left out."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def cache_root() -> Path:
    """`$XNER_CACHE_DIR`, else `~/.cache/xner`: the one cache folder of xner, shared by processes and
    checkouts. Each user keeps its own sub-folder: `cslib/` (built dictionaries and name lists),
    `data/` (downloaded sources, unless `$CSLIB_CACHE_DIR` is set), `models/` (imported encoders)."""
    env = os.environ.get(ENV_CACHE_ROOT)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "xner"

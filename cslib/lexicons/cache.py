"""The persistent cache of built sources under `cache_root()/cslib` (default `~/.cache/xner/cslib`).

Other processes (older checkouts included) share this folder, so every file is named by a tag
of what it was built from and by a format version: a changed loader writes a new file instead
of one an older reader would misread. A file that cannot be read back (truncated, written by a
class that has moved, not what it should be) is never an error: the caller rebuilds it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import time
from pathlib import Path
from typing import Any

from ..environment import cache_root, package_versions
from ..files import atomic_write_bytes

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """`$XNER_CACHE_DIR/cslib`, else `~/.cache/xner/cslib`."""
    return cache_root() / "cslib"


def cache_file(name: str, key: str, suffix: str) -> Path:
    """`NAME-TAG.SUFFIX`, TAG a digest of `key` (format version, package versions, options)."""
    return cache_dir() / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.{suffix}"


def package_key(packages: tuple[str, ...]) -> str:
    """`pkg=version,...` of the packages a cached source reads (`absent` for a missing one)."""
    found = package_versions(packages)
    return ",".join(f"{pkg}={found.get(pkg, 'absent')}" for pkg in packages)


def load_pickle(path: Path, cls: type) -> Any | None:
    """The `cls` object pickled at `path`, or None when there is none or it cannot be read back."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as fh:
            obj = pickle.load(fh)
    # A pickle can fail in many ways (truncated, a class that moved or changed): all mean "rebuild".
    except Exception as exc:  # noqa: BLE001
        log.info("%s: unreadable cache (%s), rebuilding it", path, type(exc).__name__)
        return None
    return obj if isinstance(obj, cls) else None


def write_bytes(path: Path, data: bytes) -> None:
    """Write a cache file atomically; a read-only cache is not an error (the next build rebuilds)."""
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        log.info("%s: cannot write the cache (%s)", path, exc.strerror or exc)


def write_pickle(path: Path, obj: Any) -> None:
    write_bytes(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def touch(path: Path) -> None:
    """Mark a cache file as used now (its mtime), so that `prune` keeps it."""
    try:
        os.utime(path)
    except OSError:
        pass


def prune(name: str, suffix: str, keep: Path, max_age_days: float = 30) -> int:
    """Delete `NAME-*.SUFFIX` files other than `keep` that nobody has used for `max_age_days`; returns
    how many. For caches named by a digest of the code: every upgrade writes new files, and the old
    ones would otherwise stay forever."""
    cutoff = time.time() - max_age_days * 86400
    removed = 0
    for path in cache_dir().glob(f"{name}-*.{suffix}"):
        try:
            if path != keep and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:  # another process removed or replaced it meanwhile
            continue
    return removed

"""Writing files and directories so that no reader ever sees half of one; file digests.

A file is written to a temporary `NAME.tmp-XXXXXXXX` beside it, flushed to disk and renamed
over `NAME`. A directory is built in a temporary directory beside it and swapped in by renames.
Either the old content or the new one is there whatever happens in between: a crash leaves
at most a temporary, never a truncated file or a directory that looks complete. New files get
the permissions `open()` gives (0o666 less the umask).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

PathLike = str | os.PathLike[str]


def _reserve(path: Path) -> Path:
    """Create an empty, unused `NAME.tmp-XXXXXXXX` beside `path` and return it."""
    while True:
        tmp = path.with_name(f"{path.name}.tmp-{secrets.token_hex(4)}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """A temporary file name beside `path` for writers that take a name (torch.save, save_file):
    renamed over `path` when the block ends without error, removed otherwise.

    The name is `NAME.tmp-XXXXXXXX`, so its stem is `NAME`: torch.save names the archive inside a
    file after that stem, and writes the same bytes as a save to `NAME.tmp`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _reserve(path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """`open(path, mode)` ("w" or "wb") for streaming writers; the file appears complete at `path`
    when the block ends without error, and `path` is left as it was otherwise."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes a new file: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp, tmp.open(mode, encoding=encoding if mode == "w" else None) as fh:
        yield fh


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically (parent folders are created)."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write `text` to `path` atomically."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: PathLike, data: Any, *, indent: int | None = 2, sort_keys: bool = False) -> None:
    """`data` as UTF-8 JSON (non-ASCII characters as they are) plus a final newline, atomically."""
    atomic_write_text(path, json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False) + "\n")


def _sibling(target: Path, what: str) -> Path:
    """A new, hidden `.NAME.WHAT-XXXXXXXX` path beside `target` (not created)."""
    while True:
        path = target.with_name(f".{target.name}.{what}-{secrets.token_hex(4)}")
        if not path.exists():
            return path


@contextlib.contextmanager
def atomic_directory(target: PathLike, *, mode: int | None = None, exclusive: bool = False) -> Iterator[Path]:
    """Build a directory in the temporary one this yields, beside `target`; when the block ends
    without error, swap it in: an existing `target` is moved aside, the new one renamed to
    `target`, the old one deleted. After an error `target` is as it was and the temporary is gone.

    `mode`: the new directory's permissions (0o755 for a cache other users read); by default
    those `mkdir` gives. `exclusive`: the caller is the only writer of `target`, so fixed names
    serve: the build directory is `NAME.tmp` and the old one is moved to `NAME.old` (either,
    left by a crash, is removed first), where a reader that finds no `target` may look. Otherwise
    both are hidden names unique to this call (`.NAME.tmp-XXXXXXXX`), safe with concurrent writers
    and skipped by folder listings that skip hidden entries.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if exclusive:
        tmp, old = target.with_name(f"{target.name}.tmp"), target.with_name(f"{target.name}.old")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
    else:
        while True:
            tmp = _sibling(target, "tmp")
            try:
                tmp.mkdir()
                break
            except FileExistsError:
                continue
        old = _sibling(target, "old")
    try:
        yield tmp
        if mode is not None:
            tmp.chmod(mode)
        moved = target.exists()
        if moved:
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        try:
            tmp.rename(target)
        except OSError:
            if moved:
                old.rename(target)
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)


def file_sha256(path: PathLike) -> str:
    """sha256 of a file, read in blocks: the one file digest of xner (shards, inputs, imports)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

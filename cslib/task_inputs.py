"""Readers for task inputs: JSONL, CSV, Parquet records, CoNLL-style tagged files and plain text.

A directory given as input is a finished cslib shard set (e.g. `cslib unlabeled` output: id,
lang, tokens), read as Parquet records in the manifest's shard order.

Each reader returns `Records`: the rows as dicts plus, for every row, where it came from
(`line` for text formats, `row N` for Parquet), so that a problem found later is reported as
`FILE:LINE: problem`, one line, never a traceback. Nothing is interpreted here beyond the
format: which fields are text, tags or labels is decided by `cslib.tasks`.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import CslibError, at
from .readers import effective_limit
from .shards import MANIFEST, file_digest, shard_paths
from .textio import iter_jsonl

FORMATS = ("auto", "jsonl", "csv", "parquet", "conll", "text")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".parquet": "parquet",
             ".pq": "parquet"}
_TAG = re.compile(r"^(O|[BIESLU]-\S+)$")


@dataclass
class Records:
    path: Path
    fmt: str
    rows: list[dict]
    where: list[int | str] = field(default_factory=list)  # line number (or "row N") of each row

    def at(self, i: int, problem: str) -> CslibError:
        return at(self.path, self.where[i] if i < len(self.where) else None, problem)


def detect_format(path: Path) -> str:
    """By suffix for record files; otherwise CoNLL when the first lines are `token ... tag` columns.
    A directory is a shard set: Parquet."""
    if path.is_dir():
        return "parquet"
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt:
        return fmt
    lines = []
    for line in _open(path):
        if line.strip() and not line.startswith("-DOCSTART-"):
            lines.append(line)
        elif lines:
            break
        if len(lines) >= 20:
            break
    if not lines:
        raise at(path, None, "no sentences (empty file?)")
    cols = [_columns(ln) for ln in lines]
    return "conll" if all(len(c) >= 2 and _TAG.match(c[-1]) for c in cols) else "text"


def _open(path: Path):
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise CslibError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CslibError(f"{path}: is a directory, expected a file") from None
    with fh:
        try:
            yield from fh
        except UnicodeDecodeError as exc:
            raise at(path, None, f"not UTF-8 text ({exc.reason})") from None


def _columns(line: str) -> list[str]:
    line = line.rstrip("\r\n")
    return line.split("\t") if "\t" in line else line.split()


def read_jsonl(path: Path, limit: int | None = None) -> Records:
    """One JSON object a line; blank lines are skipped."""
    rec = Records(path, "jsonl", [])
    for lineno, obj in iter_jsonl(path):
        rec.rows.append(obj)
        rec.where.append(lineno)
        if limit is not None and len(rec.rows) >= limit:
            break
    return rec


def read_csv(path: Path, limit: int | None = None) -> Records:
    """CSV with a header row; values stay strings (cast them downstream if needed)."""
    rec = Records(path, "csv", [])
    lines = _open(path)
    reader = csv.DictReader(lines)
    try:
        header = reader.fieldnames
        if not header:
            raise at(path, None, "no header row (empty file?)")
        for row in reader:
            if None in row:
                raise at(path, reader.line_num, f"{len(header) + len(row[None])} values for {len(header)} columns")
            if any(v is None for v in row.values()):
                raise at(path, reader.line_num, f"fewer values than the {len(header)} columns")
            rec.rows.append(dict(row))
            rec.where.append(reader.line_num)
            if limit is not None and len(rec.rows) >= limit:
                break
    except csv.Error as exc:
        raise at(path, reader.line_num, f"malformed CSV ({exc})") from None
    return rec


def read_parquet(path: Path, limit: int | None = None) -> Records:
    if path.is_dir():
        return read_shard_set(path, limit)
    if not path.exists():
        raise CslibError(f"{path}: file not found")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise at(path, None, f"not a readable Parquet file ({exc})") from None
    if limit is not None:
        table = table.slice(0, limit)
    rows = table.to_pylist()
    return Records(path, "parquet", rows, [f"row {i + 1}" for i in range(len(rows))])


def read_shard_set(directory: Path, limit: int | None = None) -> Records:
    """The rows of a finished shard set (any kind), shard by shard; a problem names `SHARD row N`."""
    _, paths = shard_paths(directory)
    limit = effective_limit(limit)
    rows: list[dict] = []
    where: list[int | str] = []
    for path in paths:
        table = pq.read_table(path)
        if limit is not None:
            table = table.slice(0, limit - len(rows))
        rows += table.to_pylist()
        where += [f"{path.name} row {i + 1}" for i in range(table.num_rows)]
        if limit is not None and len(rows) >= limit:
            break
    return Records(directory, "parquet", rows, where)


def input_digest(path: Path) -> dict:
    """A manifest's record of a task input: the file's digest, or a shard set's manifest's (which
    lists every shard's sha256)."""
    return file_digest(path / MANIFEST if path.is_dir() else path)


def read_tagged(path: Path, limit: int | None = None) -> Records:
    """CoNLL-style: a token a line, token first and tag last (tab or whitespace separated, 2+
    columns), blank lines between sentences, `-DOCSTART-` skipped. Tags are kept as written."""
    rec = Records(path, "conll", [])
    tokens: list[str] = []
    tags: list[str] = []
    first = 0

    def flush() -> None:
        rec.rows.append({"tokens": list(tokens), "tags": list(tags)})
        rec.where.append(first)
        tokens.clear()
        tags.clear()

    for lineno, line in enumerate(_open(path), 1):
        if not line.strip():
            if tokens:
                flush()
                if limit is not None and len(rec.rows) >= limit:
                    break
            continue
        cols = _columns(line)
        if cols[0] == "-DOCSTART-":
            continue
        if len(cols) < 2:
            raise at(path, lineno, f"expected 'token ... tag' columns, got {len(cols)}: {line.strip()[:60]!r}")
        if not tokens:
            first = lineno
        tokens.append(cols[0])
        tags.append(cols[-1])
    if tokens and (limit is None or len(rec.rows) < limit):
        flush()
    return rec


def read_lines(path: Path, limit: int | None = None, pretokenized: bool = False) -> Records:
    """Plain text, one sentence a line (blank lines skipped); `pretokenized`: split on whitespace."""
    rec = Records(path, "text", [])
    for lineno, line in enumerate(_open(path), 1):
        text = line.strip()
        if not text:
            continue
        rec.rows.append({"tokens": text.split()} if pretokenized else {"text": text})
        rec.where.append(lineno)
        if limit is not None and len(rec.rows) >= limit:
            break
    return rec


def read_records(path: str | Path, fmt: str = "auto", limit: int | None = None,
                 pretokenized: bool = False) -> Records:
    """Read any task input; `fmt` is one of FORMATS. An input without rows is an error."""
    path = Path(path)
    if fmt not in FORMATS:
        raise CslibError(f"unknown input format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if fmt == "auto":
        fmt = detect_format(path)
    reader = {"jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet, "conll": read_tagged}.get(fmt)
    rec = reader(path, limit) if reader else read_lines(path, limit, pretokenized)
    if not rec.rows:
        raise at(path, None, "no records (empty file?)")
    return rec

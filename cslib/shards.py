"""Parquet shards and their manifest: the contract with `ner` (see docs/shards.md).

Every file is written to a temporary name in the same directory and renamed into place,
so a shard that exists is complete. `manifest.json` is written last; a directory without it
is an unfinished build (resumable), never a dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import CslibError
from .textio import read_text_file

FORMAT = "cslib-shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
ROW_BATCH = 1024  # rows converted to Python at a time by `iter_rows`

_str_list = pa.list_(pa.string())
SCHEMAS: dict[str, pa.Schema] = {
    "codeswitch": pa.schema([
        ("id", pa.string()), ("src_lang", pa.string()), ("tgt_lang", pa.string()),
        ("src_tokens", _str_list), ("src_tags", _str_list),
        ("cs_tokens", _str_list), ("cs_tags", _str_list), ("cs_langs", _str_list),
        ("cs_src_index", pa.list_(pa.int32())), ("method", pa.string()), ("n_switched", pa.int32()),
    ]),
    "unlabeled": pa.schema([("id", pa.string()), ("lang", pa.string()), ("tokens", _str_list)]),
}
# Columns written by this version but not required of a shard (older shards lack them; `ner` ignores them).
OPTIONAL: dict[str, list[pa.Field]] = {
    "codeswitch": [pa.field("cs_sources", _str_list), pa.field("n_translatable", pa.int32())],
}


def write_schema(kind: str) -> pa.Schema:
    """Required columns, then the optional ones this version writes."""
    schema = SCHEMAS[kind]
    for fld in OPTIONAL.get(kind, []):
        schema = schema.append(fld)
    return schema


# Task kinds (cslib.tasks): the fixed columns; text fields and carried fields are added per input and
# listed in the manifest's "task" entry.
_switch_cols = [("cs_langs", _str_list), ("cs_src_index", pa.list_(pa.int32())), ("method", pa.string()),
                ("n_switched", pa.int32())]
SCHEMAS["tagging"] = SCHEMAS["codeswitch"]
SCHEMAS["text"] = pa.schema([("id", pa.string()), ("src_lang", pa.string()), ("tgt_lang", pa.string()),
                             ("src_text", pa.string()), ("cs_text", pa.string()), ("src_tokens", _str_list),
                             ("cs_tokens", _str_list), *_switch_cols])
SCHEMAS["classification"] = pa.schema([("id", pa.string()), ("src_lang", pa.string()), ("tgt_lang", pa.string()),
                                       ("method", pa.string()), ("n_switched", pa.int32())])


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in blocks: the one file digest of cslib (shards, inputs, manifests)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: Path) -> dict:
    """A manifest's record of an input file: its path and sha256."""
    return {"path": str(path), "sha256": file_sha256(path)}


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_shard(path: Path, kind: str, rows: dict[str, list]) -> str:
    """Write one shard atomically; returns its sha256. Deterministic bytes for equal rows."""
    schema = write_schema(kind) if set(rows) > set(SCHEMAS[kind].names) else SCHEMAS[kind]
    return write_table(path, pa.Table.from_pydict(rows, schema=schema))


def write_table(path: Path, table: pa.Table) -> str:
    """Write an Arrow table as one shard atomically; returns its sha256 (same bytes for equal tables)."""
    table = table.combine_chunks()
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=False)
    data = sink.getvalue().to_pybytes()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def write_manifest(directory: Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    atomic_write_bytes(directory / MANIFEST, text.encode("utf-8"))


def read_manifest(directory: str | Path) -> dict:
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise CslibError(f"{directory}: no such shard directory")
    if not path.exists():
        raise CslibError(f"{path}: missing; {directory} is not a finished shard set "
                         f"(an interrupted build? re-run the same build command to resume)")
    try:
        manifest = json.loads(read_text_file(path))
    except json.JSONDecodeError as exc:
        raise CslibError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(manifest, dict):
        raise CslibError(f"{path}: not a {FORMAT} manifest (a JSON {type(manifest).__name__}, expected an object)")
    if manifest.get("format") != FORMAT or manifest.get("kind") not in SCHEMAS:
        raise CslibError(f"{path}: not a {FORMAT} manifest (format={manifest.get('format')!r}, "
                         f"kind={manifest.get('kind')!r})")
    entries = manifest.get("shards")
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("file"), str) and e["file"] and Path(e["file"]).name == e["file"]
            and isinstance(e.get("sha256", ""), str) for e in entries):
        raise CslibError(f"{path}: 'shards' must be a list of {{'file': 'shard-NNNNN.parquet', 'sha256': ...}}")
    return manifest


def check_schema(path: Path, kind: str) -> None:
    """Fail with one line naming the file and the first missing or mistyped column."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise CslibError(f"{path}: not a readable Parquet file ({exc})") from None
    for fld in SCHEMAS[kind]:
        if fld.name not in schema.names:
            raise CslibError(f"{path}: missing column {fld.name!r} required for {kind} shards")
        got = schema.field(fld.name).type
        if not got.equals(fld.type) and not (pa.types.is_list(got) and pa.types.is_list(fld.type)
                                             and got.value_type.equals(fld.type.value_type)):
            raise CslibError(f"{path}: column {fld.name!r} has type {got}, expected {fld.type}")


def shard_paths(directory: str | Path, verify_checksums: bool = False) -> tuple[dict, list[Path]]:
    """Manifest and shard paths of a finished set, schema-checked (and checksummed if asked)."""
    directory = Path(directory)
    manifest = read_manifest(directory)
    paths = []
    for entry in manifest["shards"]:
        path = directory / entry["file"]
        if not path.exists():
            raise CslibError(f"{path}: listed in {directory / MANIFEST} but missing")
        check_schema(path, manifest["kind"])
        if verify_checksums:
            got = file_sha256(path)
            if got != entry.get("sha256"):
                raise CslibError(f"{path}: sha256 {got[:12]}… differs from the manifest's {str(entry.get('sha256'))[:12]}…")
        paths.append(path)
    return manifest, paths


def iter_rows(directory: str | Path) -> Iterator[dict]:
    """Rows of a finished shard set as dicts, in order, read a batch at a time (the first rows of
    a set cost one batch, not the whole shard)."""
    _, paths = shard_paths(directory)
    for path in paths:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_BATCH):
            yield from batch.to_pylist()


def read_table(directory: str | Path) -> pa.Table:
    """The whole set as one Arrow table (`.to_pandas()` for notebooks)."""
    _, paths = shard_paths(directory)
    return pa.concat_tables(pq.read_table(p) for p in paths)

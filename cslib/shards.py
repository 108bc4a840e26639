"""Parquet shards and their manifest: the contract with `ner` (see docs/shards.md).

`SCHEMAS` is the one definition of the required columns; `ner` checks shards against it through
`shard_schema` / `schema_problem`. Every file is written atomically (`files.atomic_write_bytes`),
so a shard that exists is complete. `manifest.json` is written last; a directory without it
is an unfinished build (resumable), never a dataset.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .errors import CslibError
from .files import atomic_write_bytes, atomic_write_json, file_sha256
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

SHARD_KINDS: tuple[str, ...] = tuple(SCHEMAS)


def shard_schema(kind: str) -> pa.Schema:
    """The columns every shard of `kind` must have, with their Arrow types (docs/shards.md)."""
    if kind not in SCHEMAS:
        raise CslibError(f"unknown shard kind {kind!r} (expected one of: {', '.join(SCHEMAS)})")
    return SCHEMAS[kind]


def _type_name(t: pa.DataType) -> str:
    """`list<int32>` rather than pyarrow's `list<item: int32>`, as docs/shards.md writes types."""
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{_type_name(t.value_type)}>"
    return str(t)


def _type_fits(got: pa.DataType, want: pa.DataType) -> bool:
    """`got` reads as `want`: equal, or a large_string / large_list where a string / list is required."""
    if pa.types.is_list(want):
        is_list = pa.types.is_list(got) or pa.types.is_large_list(got)
        return is_list and _type_fits(got.value_type, want.value_type)
    if pa.types.is_string(want):
        return pa.types.is_string(got) or pa.types.is_large_string(got)
    return got.equals(want)


def schema_problem(schema: pa.Schema, kind: str) -> str | None:
    """The first required column of `kind` that `schema` lacks or types otherwise, as a one-line
    message ("missing column ...", "column ... has type ..."); None when all are there."""
    for fld in shard_schema(kind):
        idx = schema.get_field_index(fld.name)
        if idx < 0:
            return (f"missing column {fld.name!r} ({kind} shards need {_type_name(fld.type)} {fld.name!r}; "
                    f"see docs/shards.md)")
        got = schema.field(idx).type
        if not _type_fits(got, fld.type):
            return f"column {fld.name!r} has type {_type_name(got)}, expected {_type_name(fld.type)}"
    return None


def file_digest(path: Path) -> dict:
    """A manifest's record of an input file: its path and sha256."""
    return {"path": str(path), "sha256": file_sha256(path)}


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.parquet"


def write_table(path: Path, table: pa.Table) -> str:
    """Write an Arrow table as one shard atomically; returns its sha256 (same bytes for equal tables)."""
    table = table.combine_chunks()
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_statistics=False)
    data = sink.getvalue().to_pybytes()
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def write_manifest(directory: Path, manifest: dict) -> None:
    atomic_write_json(directory / MANIFEST, manifest)


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
    problem = schema_problem(schema, kind)
    if problem:
        raise CslibError(f"{path}: {problem}")


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

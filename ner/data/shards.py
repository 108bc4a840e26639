"""Reading `cslib` shard directories (docs/shards.md) and turning them into training data.

`ner` reads shards with pyarrow, checked against the documented schema, whose one definition is
cslib's (`cslib.shard_schema`, through `cslib.schema_problem`); it never imports cslib internals.
Every deviation is reported as one `NerError` naming the directory or file and the offending
column, before training starts.

Training examples are (source view, code-switched view) pairs. Pseudo-labeled target
sentences from self-training have a single view (`cs_tokens is None`); the trainer trains
them with the supervised loss only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cslib import SHARD_KINDS, effective_limit, schema_problem
from ner.data.records import Example, TextPair
from ner.errors import NerError, first_line

FORMAT = "cslib-shards"
FORMAT_VERSION = 1

log = logging.getLogger(__name__)

#: Columns `ner` actually loads; the others are only type-checked.
_READ = {
    "codeswitch": ["id", "src_lang", "tgt_lang", "src_tokens", "src_tags", "cs_tokens", "cs_tags"],
    "unlabeled": ["id", "lang", "tokens"],
    "text": ["id", "src_lang", "tgt_lang", "src_tokens", "cs_tokens", "n_switched"],
}
#: (tokens, tags) column pairs whose per-row lengths must agree.
_PARALLEL = {"codeswitch": [("src_tokens", "src_tags"), ("cs_tokens", "cs_tags")], "unlabeled": [], "text": []}


@dataclass
class CheckedShards:
    """One shard directory after its manifest and every shard's schema were checked (ner's reading
    side; `cslib.ShardSet` is cslib's own view of a built set)."""

    directory: Path
    kind: str
    manifest: dict
    files: list[Path]
    entity_types: list[str] = field(default_factory=list)

    @property
    def langs(self) -> tuple[str, str]:
        return str(self.manifest.get("src_lang", "")), str(self.manifest.get("tgt_lang", ""))


def open_shard_dir(directory: str | os.PathLike[str], kind: str | None = None) -> CheckedShards:
    """Check a shard directory's manifest and every shard's schema (no rows are read).

    `kind` ("codeswitch" / "unlabeled") is what the caller needs; a directory of the other kind
    is an error rather than a confusing missing-column message later.
    """
    d = Path(directory)
    if not d.is_dir():
        raise NerError(f"{d}: shard directory not found")
    mpath = d / "manifest.json"
    if not mpath.is_file():
        raise NerError(f"{d}: no manifest.json (not a cslib shard directory, or its build did not finish)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NerError(f"{mpath}: not valid JSON ({first_line(exc)})") from None
    if not isinstance(manifest, dict):
        raise NerError(f"{mpath}: expected a JSON object")
    if manifest.get("format") != FORMAT:
        raise NerError(f"{mpath}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise NerError(
            f"{mpath}: format_version {manifest.get('format_version')!r} is not supported "
            f"(this ner reads version {FORMAT_VERSION})"
        )
    found = manifest.get("kind")
    if found not in SHARD_KINDS:
        raise NerError(f"{mpath}: unknown kind {found!r} (expected one of: {', '.join(SHARD_KINDS)})")
    if kind is not None and found != kind:
        raise NerError(f"{d}: holds {found!r} shards, but {kind!r} shards are needed here")
    entries = manifest.get("shards")
    if not isinstance(entries, list) or not entries:
        raise NerError(f"{mpath}: empty shard set (the manifest lists no shards)")
    files: list[Path] = []
    for entry in entries:
        name = entry.get("file") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise NerError(f"{mpath}: bad shard entry {entry!r} (expected {{'file': 'shard-NNNNN.parquet'}})")
        path = d / name
        if not path.is_file():
            raise NerError(f"{path}: listed in the manifest but missing")
        _check_schema(path, found)
        files.append(path)
    types = manifest.get("entity_types") or []
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise NerError(f"{mpath}: entity_types must be a list of strings")
    return CheckedShards(d, found, manifest, files, sorted(types))


def find_shard_dirs(directory: str | os.PathLike[str]) -> list[Path]:
    """The shard sets a `--shards` / `--unlabeled` argument names: itself, or every set under it.

    A directory with a manifest.json is one shard set. A directory without one is a *parent*
    (e.g. `data/cs/` holding `en-ja/` and `en-zh/`): every sub-folder must then be a finished
    shard set or a parent of some, so an unfinished build or a foreign folder is an error naming
    it rather than silently training on less data. Hidden folders (temp files) are skipped.
    """
    d = Path(directory)
    if not d.is_dir():
        raise NerError(f"{d}: shard directory not found")
    if (d / "manifest.json").is_file():
        return [d]
    subs = sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subs or any(p.suffix == ".parquet" for p in d.iterdir()):
        raise NerError(f"{d}: no manifest.json (not a cslib shard directory, or its build did not finish)")
    found: list[Path] = []
    for sub in subs:
        if not (sub / "manifest.json").is_file() and not any(
                p.is_dir() and not p.name.startswith(".") for p in sub.iterdir()):
            raise NerError(f"{sub}: no manifest.json under {d} (an unfinished build, or not a cslib shard "
                           f"directory; finish or move it, or name the shard sets one by one)")
        found += find_shard_dirs(sub)
    return found


def open_shard_dirs(dirs: Sequence[str | os.PathLike[str]], kind: str) -> list[CheckedShards]:
    """`open_shard_dir` for every shard set named by `dirs` (sets or parents of sets), logged."""
    sets: list[CheckedShards] = []
    for arg in dirs:
        found = find_shard_dirs(arg)
        sets += [open_shard_dir(p, kind) for p in found]
        if found != [Path(arg)]:
            log.info("%s: %d %s shard set(s): %s", arg, len(found), kind,
                     ", ".join(str(p.relative_to(arg)) for p in found))
    seen: set[Path] = set()
    for s in sets:
        key = s.directory.resolve()
        if key in seen:
            raise NerError(f"{s.directory}: shard set given twice (directly and through a parent?)")
        seen.add(key)
    return sets


def _check_schema(path: Path, kind: str) -> None:
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise NerError(f"{path}: not a readable Parquet file ({first_line(exc)})") from None
    problem = schema_problem(schema, kind)
    if problem:
        raise NerError(f"{path}: {problem}")


def read_shard_table(path: Path, kind: str) -> pa.Table:
    try:
        table = pq.read_table(path, columns=_READ[kind])
    except (pa.ArrowException, OSError) as exc:
        raise NerError(f"{path}: cannot read ({first_line(exc)})") from None
    for name in _READ[kind]:
        nulls = table.column(name).null_count
        if nulls:
            raise NerError(f"{path}: column {name!r} has {nulls} null value(s)")
    for tok, tag in _PARALLEL[kind]:
        a = pc.list_value_length(table.column(tok))
        b = pc.list_value_length(table.column(tag))
        bad = pc.indices_nonzero(pc.not_equal(a, b))
        if len(bad):
            row = bad[0].as_py()
            rid = table.column("id")[row].as_py()
            raise NerError(
                f"{path}: row {row} (id {rid!r}): {tok!r} has {a[row].as_py()} items but {tag!r} has {b[row].as_py()}"
            )
        empty = pc.indices_nonzero(pc.equal(a, 0))
        if len(empty):
            row = empty[0].as_py()
            raise NerError(f"{path}: row {row} (id {table.column('id')[row].as_py()!r}): empty {tok!r}")
    return table


def _tag_types(table: pa.Table, columns: Iterable[str]) -> set[str]:
    types: set[str] = set()
    for col in columns:
        for tag in pc.unique(pc.list_flatten(table.column(col))).to_pylist():
            if tag != "O":
                if len(tag) < 3 or tag[:2] not in ("B-", "I-"):
                    raise NerError(f"column {col!r}: tag {tag!r} is not IOB2 (O, B-TYPE or I-TYPE)")
                types.add(tag[2:])
    return types


def load_pairs(dirs: Sequence[str | os.PathLike[str]], limit: int | None = None) -> tuple[list[Example], list[str]]:
    """Read and combine code-switched shard directories (e.g. en→ja plus en→zh).

    Returns the examples, in directory then shard order, and the sorted union of entity types
    (from the manifests and from the tags actually present). `limit` <= 0 means all.
    """
    limit = effective_limit(limit)
    if not dirs:
        raise NerError("no shard directories given (use --shards DIR [DIR ...])")
    sets = open_shard_dirs(dirs, "codeswitch")
    examples: list[Example] = []
    types: set[str] = set()
    seen_ids: dict[str, Path] = {}
    for s in sets:
        types.update(s.entity_types)
        for path in s.files:
            table = read_shard_table(path, "codeswitch")
            try:
                types |= _tag_types(table, ["src_tags", "cs_tags"])
            except NerError as exc:
                raise NerError(f"{path}: {exc}") from None
            cols = {c: table.column(c).to_pylist() for c in _READ["codeswitch"]}
            for i in range(table.num_rows):
                rid = cols["id"][i]
                if rid in seen_ids:
                    raise NerError(f"{path}: id {rid!r} also occurs in {seen_ids[rid]} (ids must be unique)")
                seen_ids[rid] = path
                examples.append(
                    Example(rid, cols["src_tokens"][i], cols["src_tags"][i], cols["cs_tokens"][i],
                            cols["cs_tags"][i], cols["tgt_lang"][i], cols["src_lang"][i])
                )
                if limit is not None and len(examples) >= limit:
                    return examples, sorted(types)
    if not examples:
        raise NerError(f"{', '.join(str(d) for d in dirs)}: empty shard set (no rows)")
    return examples, sorted(types)


def load_text_pairs(dirs: Sequence[str | os.PathLike[str]], limit: int | None = None) -> list[TextPair]:
    """Switched rows of `cslib build --task text` shard sets (rows where nothing was switched are no pair)."""
    limit = effective_limit(limit)
    if not dirs:
        raise NerError("no text-pair shard directories given (--target-pairs DIR [DIR ...])")
    out: list[TextPair] = []
    for s in open_shard_dirs(dirs, "text"):
        for path in s.files:
            table = read_shard_table(path, "text")
            cols = {c: table.column(c).to_pylist() for c in _READ["text"]}
            for i in range(table.num_rows):
                if cols["n_switched"][i] > 0 and cols["src_tokens"][i] and cols["cs_tokens"][i]:
                    out.append(TextPair(cols["id"][i], cols["src_lang"][i], cols["src_tokens"][i], cols["cs_tokens"][i]))
                    if limit is not None and len(out) >= limit:
                        return out
    if not out:
        raise NerError(f"{', '.join(str(d) for d in dirs)}: no switched text pairs")
    return out



"""ner.data: reading cslib shard directories through the documented schema (docs/shards.md).

The helpers `write_cs_shards` / `write_unlabeled_shards` write real Parquet shards with pyarrow
exactly as the contract describes; the other ner test modules import them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ner.data import (
    PairDataset,
    batches_per_epoch,
    epoch_batches,
    load_pairs,
    load_pseudo,
    load_unlabeled,
    make_loader,
    open_shard_dir,
    write_pseudo,
)
from ner.errors import NerError

# Two-character Japanese "translations" keep the code-switched side 1:1 with the source tokens.
_JA = ["東京", "日本", "会社", "大学", "銀行", "山田", "川", "市"]

CS_SCHEMA = pa.schema([
    ("id", pa.string()), ("src_lang", pa.string()), ("tgt_lang", pa.string()),
    ("src_tokens", pa.list_(pa.string())), ("src_tags", pa.list_(pa.string())),
    ("cs_tokens", pa.list_(pa.string())), ("cs_tags", pa.list_(pa.string())),
    ("cs_langs", pa.list_(pa.string())), ("cs_src_index", pa.list_(pa.int32())),
    ("method", pa.string()), ("n_switched", pa.int32()),
])
UNLABELED_SCHEMA = pa.schema([("id", pa.string()), ("lang", pa.string()), ("tokens", pa.list_(pa.string()))])


def panx(path: Path, limit: int) -> list[tuple[list[str], list[str]]]:
    """First `limit` sentences of a PAN-X TSV file (scratch reader for fixtures only)."""
    out: list[tuple[list[str], list[str]]] = []
    toks: list[str] = []
    tags: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if toks:
                out.append((toks, tags))
                toks, tags = [], []
                if len(out) >= limit:
                    break
            continue
        tok, tag = line.split("\t")
        toks.append(tok)
        tags.append(tag)
    return out


def code_switch(tokens: Sequence[str], tgt: str = "ja") -> tuple[list[str], list[str], int]:
    """Replace every other token by a target-language word (1:1, so tags carry over)."""
    cs, langs = [], []
    for i, tok in enumerate(tokens):
        if i % 2 == 0:
            cs.append(_JA[(len(tok) + i) % len(_JA)])
            langs.append(tgt)
        else:
            cs.append(tok)
            langs.append("en")
    return cs, langs, sum(1 for x in langs if x == tgt)


def _manifest(directory: Path, kind: str, files: list[tuple[str, int]], extra: dict) -> None:
    shards = [{"file": f, "rows": n, "sha256": hashlib.sha256((directory / f).read_bytes()).hexdigest()}
              for f, n in files]
    manifest = {"format": "cslib-shards", "format_version": 1, "kind": kind, **extra,
                "counts": {"rows": sum(n for _, n in files)}, "shards": shards}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))


def write_cs_shards(
    directory: Path,
    sentences: Sequence[tuple[Sequence[str], Sequence[str]]],
    src: str = "en",
    tgt: str = "ja",
    rows_per_shard: int = 1000,
    schema: pa.Schema = CS_SCHEMA,
    columns: dict[str, list] | None = None,
) -> Path:
    """Write a code-switched shard set (manifest + shard-NNNNN.parquet) following docs/shards.md."""
    directory.mkdir(parents=True, exist_ok=True)
    rows: dict[str, list] = {name: [] for name in CS_SCHEMA.names}
    types: set[str] = set()
    for i, (tokens, tags) in enumerate(sentences):
        cs, langs, switched = code_switch(tokens, tgt)
        types |= {t[2:] for t in tags if t != "O"}
        for key, value in (("id", f"{src}-{tgt}:{i}:0"), ("src_lang", src), ("tgt_lang", tgt),
                           ("src_tokens", list(tokens)), ("src_tags", list(tags)), ("cs_tokens", cs),
                           ("cs_tags", list(tags)), ("cs_langs", langs), ("cs_src_index", list(range(len(cs)))),
                           ("method", "dict"), ("n_switched", switched)):
            rows[key].append(value)
    rows.update(columns or {})
    files = []
    n = len(sentences)
    for k, start in enumerate(range(0, n, rows_per_shard)):
        name = f"shard-{k:05d}.parquet"
        chunk = {c: rows[c][start : start + rows_per_shard] for c in schema.names}
        pq.write_table(pa.table(chunk, schema=schema), directory / name)
        files.append((name, min(rows_per_shard, n - start)))
    _manifest(directory, "codeswitch", files, {"src_lang": src, "tgt_lang": tgt, "entity_types": sorted(types)})
    return directory


def write_unlabeled_shards(directory: Path, sentences: Sequence[Sequence[str]], lang: str = "ja") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.table({"id": [f"{lang}:{i}" for i in range(len(sentences))], "lang": [lang] * len(sentences),
                      "tokens": [list(s) for s in sentences]}, schema=UNLABELED_SCHEMA)
    pq.write_table(table, directory / "shard-00000.parquet")
    _manifest(directory, "unlabeled", [("shard-00000.parquet", len(sentences))], {"src_lang": lang, "tgt_lang": lang})
    return directory


@pytest.fixture(scope="module")
def sentences(data_root: Path) -> list[tuple[list[str], list[str]]]:
    return panx(data_root / "panx" / "train-en.tsv", 30)


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_reads_and_combines_directories(tmp_path: Path, sentences) -> None:
    ja = write_cs_shards(tmp_path / "en-ja", sentences[:20], tgt="ja", rows_per_shard=7)
    zh = write_cs_shards(tmp_path / "en-zh", sentences[20:], tgt="zh")
    assert len(open_shard_dir(ja).files) == 3
    examples, types = load_pairs([ja, zh])
    assert len(examples) == 30 and types == ["LOC", "ORG", "PER"]
    assert [e.lang for e in examples].count("zh") == 10
    first = examples[0]
    assert first.paired and first.src_tokens == sentences[0][0] and first.cs_tags == sentences[0][1]
    assert len(load_pairs([ja, zh], limit=5)[0]) == 5


def test_missing_column_is_one_line_naming_file_and_column(tmp_path: Path, sentences) -> None:
    schema = pa.schema([f for f in CS_SCHEMA if f.name != "cs_tags"])
    d = write_cs_shards(tmp_path / "bad", sentences, schema=schema)
    with pytest.raises(NerError) as exc:
        load_pairs([d])
    msg = one_line(exc)
    assert "shard-00000.parquet" in msg and "'cs_tags'" in msg and "missing" in msg


def test_wrong_type_is_one_line(tmp_path: Path, sentences) -> None:
    fields = [pa.field("cs_src_index", pa.list_(pa.int64())) if f.name == "cs_src_index" else f for f in CS_SCHEMA]
    d = write_cs_shards(tmp_path / "bad", sentences, schema=pa.schema(fields))
    with pytest.raises(NerError) as exc:
        open_shard_dir(d)
    msg = one_line(exc)
    assert "shard-00000.parquet" in msg and "'cs_src_index'" in msg and "list<int64>" in msg and "list<int32>" in msg


def test_length_mismatch_names_row(tmp_path: Path, sentences) -> None:
    tags = [list(t) for _, t in sentences]
    tags[3] = tags[3][:-1]
    d = write_cs_shards(tmp_path / "bad", sentences, columns={"cs_tags": tags})
    with pytest.raises(NerError) as exc:
        load_pairs([d])
    msg = one_line(exc)
    assert "row 3" in msg and "'cs_tokens'" in msg and "'cs_tags'" in msg


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: (d / "manifest.json").unlink(), "no manifest.json"),
        (lambda d: _edit(d, shards=[]), "empty shard set"),
        (lambda d: _edit(d, format="other"), "format is 'other'"),
        (lambda d: _edit(d, format_version=2), "format_version 2"),
        (lambda d: _edit(d, kind="unlabeled"), "'unlabeled' shards"),
        (lambda d: (d / "shard-00000.parquet").unlink(), "missing"),
        (lambda d: (d / "shard-00000.parquet").write_text("not parquet"), "not a readable Parquet file"),
    ],
)
def test_manifest_errors(tmp_path: Path, sentences, mutate, expected: str) -> None:
    d = write_cs_shards(tmp_path / "cs", sentences)
    mutate(d)
    with pytest.raises(NerError) as exc:
        load_pairs([d])
    assert expected in one_line(exc) and str(d) in str(exc.value)


def _edit(d: Path, **changes) -> None:
    m = json.loads((d / "manifest.json").read_text())
    m.update(changes)
    (d / "manifest.json").write_text(json.dumps(m))


def test_no_rows_is_an_error(tmp_path: Path) -> None:
    d = write_cs_shards(tmp_path / "empty", [])
    with pytest.raises(NerError, match="empty shard set"):
        load_pairs([d])
    with pytest.raises(NerError, match="no shard directories"):
        load_pairs([])


def test_unlabeled_and_pseudo_roundtrip(tmp_path: Path, sentences) -> None:
    d = write_unlabeled_shards(tmp_path / "ja", [list("東京タワー"), list("日本")])
    got = load_unlabeled([d])
    assert [s.tokens for s in got] == [list("東京タワー"), list("日本")] and got[0].lang == "ja"
    with pytest.raises(NerError, match="'codeswitch' shards are needed"):
        load_pairs([d])
    examples, _ = load_pairs([write_cs_shards(tmp_path / "cs", sentences[:3])])
    path = tmp_path / "pseudo.jsonl"
    assert write_pseudo(path, examples) == 3
    back = load_pseudo(path)
    assert [b.src_tokens for b in back] == [e.src_tokens for e in examples] and not back[0].paired


def test_epoch_batches_are_deterministic_and_cover_everything() -> None:
    a = epoch_batches(50, 16, epoch=0, seed=1)
    assert a == epoch_batches(50, 16, epoch=0, seed=1) != epoch_batches(50, 16, epoch=1, seed=1)
    assert sorted(i for b in a for i in b) == list(range(50))
    assert len(a) == batches_per_epoch(50, 16) == 4
    loader = make_loader(PairDataset(list(range(50))), a[2:])  # type: ignore[arg-type]
    assert [len(b) for b in loader] == [16, 2]


def test_limit_zero_or_negative_means_all(tmp_path: Path, sentences) -> None:
    d = write_cs_shards(tmp_path / "en-ja", sentences)
    n = len(load_pairs([d])[0])
    assert [len(load_pairs([d], limit=k)[0]) for k in (0, -3, 2)] == [n, n, 2]

"""Test helpers shared by several test modules (fixtures shared across modules are in conftest.py).

`write_cs_shards` / `write_unlabeled_shards` write real Parquet shards with pyarrow, with the
required columns of the contract (docs/shards.md, `cslib.shard_schema`); `tiny_config` is a
TrainConfig for a tiny, fast model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cslib import shard_schema
from ner.model.config import ModelConfig
from ner.training.config import TrainConfig

# Two-character Japanese "translations" keep the code-switched side 1:1 with the source tokens.
_JA = ["東京", "日本", "会社", "大学", "銀行", "山田", "川", "市"]

CS_SCHEMA = shard_schema("codeswitch")
UNLABELED_SCHEMA = shard_schema("unlabeled")


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


def tiny_config(encoder: Path, shards: Path, out: Path, **kw) -> TrainConfig:
    model = ModelConfig(encoder=str(encoder), max_subwords=64, dist_emb=8, region_emb=8, conv_hidden=16,
                        dilations=(1, 2), biaffine_size=32, ffn_size=32, proj_dim=16, dropout=0.1)
    base = {"model": model, "shards": [str(shards)], "out": str(out), "batch_size": 8, "lr": 3e-3,
            "encoder_lr": 3e-3, "eval_langs": [], "log_every": 1, "seed": 7}
    base.update(kw)
    return TrainConfig(**base)


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def export_tiny_relation_model(encoder: Path, base: Path, *flags: str) -> Path:
    """A tiny random relation-head model (seed 0, PAN-X types) saved under `base` and exported to
    `base/export` with `ner export` and `flags`; returns the export."""
    import torch

    from ner.cli import main
    from ner.model.ner_model import NerModel

    torch.manual_seed(0)
    NerModel(tiny_config(encoder, base, base / "unused").model, ["LOC", "ORG", "PER"]).save(base / "model")
    assert main(["export", str(base / "model"), "--out", str(base / "export"), *flags]) == 0
    return base / "export"

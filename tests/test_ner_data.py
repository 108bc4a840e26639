"""ner.data: reading cslib shard directories through the documented schema (docs/shards.md).

The shards are written by `tests.helpers.write_cs_shards` / `write_unlabeled_shards`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from ner.data.pseudo_labels import load_pseudo, write_pseudo
from ner.data.sampling import PairDataset, batches_per_epoch, epoch_batches, make_loader
from ner.data.shards import load_pairs, open_shard_dir
from ner.data.unlabeled import load_unlabeled
from ner.errors import NerError
from tests.helpers import CS_SCHEMA, panx, write_cs_shards, write_unlabeled_shards


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

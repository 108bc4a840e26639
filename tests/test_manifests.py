from __future__ import annotations

import shutil

import pytest
import yaml

from cslib import CslibError, load_split
from cslib.manifests import all_manifests, load_manifest, resolve_file, sha256_file


def test_every_manifest_declares_origin_licence_and_checksums(data_root):
    ms = all_manifests()
    assert {m.dataset for m in ms} == {"panx", "muse", "tatoeba", "conll2002"}
    assert len([m for m in ms if m.dataset == "panx"]) == 39
    for m in ms:
        assert m.license and m.format
        assert m.hf_dataset or all(f.url for f in m.files.values()), m.name
        for f in m.files.values():
            assert len(f.sha256) == 64
            assert sha256_file(data_root / f.path) == f.sha256, f.path


def test_explicit_root_beats_environment(data_root, tmp_path, monkeypatch):
    monkeypatch.setenv("CSLIB_DATA_ROOT", str(tmp_path / "elsewhere"))
    assert resolve_file("panx", "ja", "dev", data_root) == data_root / "panx" / "dev-ja.tsv"
    with pytest.raises(CslibError, match=r"not found in the data mirror given by \$CSLIB_DATA_ROOT"):
        resolve_file("panx", "ja", "dev")
    monkeypatch.setenv("CSLIB_DATA_ROOT", str(data_root))
    assert len(load_split("panx", "ja", "dev", limit=5)) == 5


def test_checksum_mismatch_is_a_clear_error(data_root, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "panx").mkdir(parents=True)
    src = data_root / "panx" / "dev-hi.tsv"
    bad = mirror / "panx" / "dev-hi.tsv"
    bad.write_bytes(src.read_bytes().replace(b"B-PER", b"B-ORG", 1))
    with pytest.raises(CslibError, match=r"dev-hi.tsv: sha256 mismatch for panx-hi:dev"):
        load_split("panx", "hi", "dev", data_root=mirror)


def test_remote_url_download_into_cache(data_root, tmp_path, monkeypatch):
    """The real download path, pointed at a file:// URL since this machine has no internet."""
    mdir = tmp_path / "manifests" / "muse"
    mdir.mkdir(parents=True)
    doc = yaml.safe_load(load_manifest("muse", "en-de").origin.read_text())
    doc["files"]["dict"]["url"] = (data_root / "muse" / "en-de.txt").as_uri()
    (mdir / "en-de.yaml").write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("CSLIB_MANIFESTS", str(tmp_path / "manifests"))
    monkeypatch.setenv("CSLIB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("CSLIB_DATA_ROOT", raising=False)
    path = resolve_file("muse", "en-de", "dict")
    assert path == tmp_path / "cache" / "muse" / "en-de.txt"
    assert path.read_bytes() == (data_root / "muse" / "en-de.txt").read_bytes()
    assert not list(path.parent.glob("*.part"))
    # A broken URL is one clear line, and nothing half-written stays in the cache.
    shutil.rmtree(tmp_path / "cache")
    doc["files"]["dict"]["url"] = (tmp_path / "missing.txt").as_uri()
    (mdir / "en-de.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(CslibError, match="download failed"):
        resolve_file("muse", "en-de", "dict")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_unknown_source_lists_known(data_root):
    with pytest.raises(CslibError, match=r"no data manifest for panx/qq \(have: af ar"):
        resolve_file("panx", "qq", "dev", data_root)
    with pytest.raises(CslibError, match="has no split 'test'"):
        load_split("panx", "en", "test", data_root)

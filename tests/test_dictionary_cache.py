"""The finished dictionary of a build, cached per machine: the same dictionary as a fresh build,
never read when a file, option or the code changed, and rebuilt when unreadable.

Every test writes its caches under a private XNER_CACHE_DIR (the user's cache is shared)."""

from __future__ import annotations

import pytest

from cslib import BuildConfig
from cslib.lexicons import dictionary_cache, sources


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "xcache"))
    return tmp_path / "xcache" / "cslib"


def tiny_muse(path, extra: str = "") -> str:
    path.write_text("house\t家\nhouse\t住宅\ncat\t猫\nnew york\tニューヨーク\n" + extra, encoding="utf-8")
    return str(path)


def cfg(path: str, **kw) -> BuildConfig:
    return BuildConfig(tgt="ja", dictionary=path, extra_dicts=["none"], entity_sources=["none"], transliterate=False,
                       **kw)


def snapshot(d) -> tuple:
    return (d.src_lang, d.tgt_lang, d.max_len, d.info,
            {k: [(t.text, t.origin, t.weight) for t in v] for k, v in d.entries.items()})


def count_builds(monkeypatch) -> list[int]:
    """How often the dictionary is really built (not read from the cache)."""
    calls = [0]
    real = sources.adjust_dictionary

    def counted(d, c):
        calls[0] += 1
        return real(d, c)

    monkeypatch.setattr(sources, "adjust_dictionary", counted)
    return calls


def test_cached_dictionary_is_the_built_one(tmp_path, private_cache, monkeypatch):
    path = tiny_muse(tmp_path / "muse.txt")
    built = count_builds(monkeypatch)
    first, inputs = sources.build_dictionary(cfg(path))
    assert built[0] == 1 and len(list(private_cache.glob("dictionary-*.pickle"))) == 1
    again, inputs2 = sources.build_dictionary(cfg(path))
    assert built[0] == 1, "the second build should read the cache"
    assert snapshot(again) == snapshot(first) and inputs2 == inputs
    assert [t.text for t in again.lookup(["new", "york"])] == ["ニューヨーク"]
    assert not [p for p in private_cache.iterdir() if p.name.startswith(".")], "a temporary file was left"


def test_a_changed_file_option_or_code_never_reads_the_old_cache(tmp_path, private_cache, monkeypatch):
    path = tiny_muse(tmp_path / "muse.txt")
    built = count_builds(monkeypatch)
    sources.build_dictionary(cfg(path))
    tiny_muse(tmp_path / "muse.txt", "dog\t犬\n")  # same path, new content
    d, _ = sources.build_dictionary(cfg(path))
    assert built[0] == 2 and [t.text for t in d.lookup(["dog"])] == ["犬"]
    d, _ = sources.build_dictionary(cfg(path, senses="uniform"))
    assert built[0] == 3 and {t.weight for opts in d.entries.values() for t in opts} == {1.0}
    monkeypatch.setattr(dictionary_cache, "code_digest", lambda: "another checkout")
    sources.build_dictionary(cfg(path))
    assert built[0] == 4
    assert len(list(private_cache.glob("dictionary-*.pickle"))) == 4


def test_unreadable_dictionary_cache_is_rebuilt_and_rewritten(tmp_path, private_cache, monkeypatch):
    path = tiny_muse(tmp_path / "muse.txt")
    built = count_builds(monkeypatch)
    fresh, _ = sources.build_dictionary(cfg(path))
    (file,) = private_cache.glob("dictionary-*.pickle")
    good = file.read_bytes()
    for data in (b"", good[: len(good) // 2], b"\x80\x04garbage", good.replace(b"ja", b"zh")):
        file.write_bytes(data)
        d, _ = sources.build_dictionary(cfg(path))
        assert snapshot(d) == snapshot(fresh)
        assert dictionary_cache.unpack(file.read_bytes(), "en", "ja") is not None  # rewritten whole
    assert built[0] == 5



def test_files_unused_for_a_month_are_pruned_when_a_new_one_is_written(tmp_path, private_cache, monkeypatch):
    """Each code change names new files: writing one deletes those unused for MAX_AGE_DAYS; a cache hit
    refreshes its file; other caches' files are left alone."""
    import os
    import time

    path = tiny_muse(tmp_path / "muse.txt")
    sources.build_dictionary(cfg(path))
    (in_use,) = private_cache.glob("dictionary-*.pickle")
    old = private_cache / "dictionary-0000000000000000.pickle"
    old.write_bytes(b"from an older checkout")
    other = private_cache / "translit-c2k-turbo-0000000000000000.json"
    other.write_text("{}")
    month_ago = time.time() - (dictionary_cache.MAX_AGE_DAYS + 1) * 86400
    for p in (in_use, old, other):
        os.utime(p, (month_ago, month_ago))
    sources.build_dictionary(cfg(path))  # a hit: refreshes in_use, writes nothing, prunes nothing
    assert in_use.stat().st_mtime > month_ago and old.exists()
    monkeypatch.setattr(dictionary_cache, "code_digest", lambda: "an upgrade")
    sources.build_dictionary(cfg(path))  # a new file: the month-old one goes
    assert not old.exists() and in_use.exists() and other.exists()
    assert len(list(private_cache.glob("dictionary-*.pickle"))) == 2

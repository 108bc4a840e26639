"""Transliteration at corpus speed (each letter run through e2k once per machine, in batches) without
changing a byte of the shards, and caches that are rebuilt rather than trusted when unreadable.

Every test here writes its caches under a private XNER_CACHE_DIR: the user's cache is shared with
other checkouts and processes."""

from __future__ import annotations

import json
import pickle

import pytest

from cslib import BuildConfig, build_codeswitch
from cslib.lexicons import c2k_cache, e2k_batch, transliterate
from cslib.lexicons import entity_sources as es
from cslib.lexicons.cache import load_pickle


@pytest.fixture()
def private_cache(tmp_path, monkeypatch):
    """A fresh cache folder, and no memo left from earlier tests in this process."""
    monkeypatch.setenv("XNER_CACHE_DIR", str(tmp_path / "xcache"))
    memos = (transliterate.shared, c2k_cache.shared)
    for fn in memos:
        fn.cache_clear()
    yield tmp_path / "xcache" / "cslib"
    for fn in memos:
        fn.cache_clear()


def shard_digests(out) -> dict[str, str]:
    return {e["file"]: e["sha256"] for e in json.loads((out / "manifest.json").read_text())["shards"]}


def test_batched_decoding_is_e2ks_own_call_bit_for_bit():
    model = c2k_cache.load_c2k("turbo")
    assert e2k_batch.agrees(model)
    words = ["knausgard", "washington", "o", "brien", "tchaikovsky", "smith", "smyth", "aa", "zzzzqx", "mcdonald",
             "karl", "ove", "liszt", "wagner", "cosima", "marie", "agoult", "x" * 20]
    assert e2k_batch.transliterate_batch(model, words, batch=4) == {w: model(w) for w in words}


def test_cold_warm_and_unmemoised_builds_are_byte_identical(tmp_path, data_root, private_cache, monkeypatch):
    def build(name: str):
        return build_codeswitch(BuildConfig(tgt="ja", data_root=str(data_root), out=str(tmp_path / name), limit=300,
                                            shard_size=100, extra_dicts=["none"], entity_sources=["none"],
                                            transliterate=True))

    cold = shard_digests(build("cold"))
    files = list(private_cache.glob("translit-c2k-turbo-*.json"))
    assert len(files) == 1
    pieces = json.loads(files[0].read_text(encoding="utf-8"))["pieces"]
    assert len(pieces) > 100 and pieces["smith"] == "スミス"
    # warm, in a new process's state: every letter run comes from the cache file, the model never loads
    for fn in (transliterate.shared, c2k_cache.shared):
        fn.cache_clear()

    def no_model(model: str):
        raise AssertionError("the model was loaded although every letter run is in the cache")

    with monkeypatch.context() as m:
        m.setattr(c2k_cache, "load_c2k", no_model)
        assert shard_digests(build("warm")) == cold
    # the first version's path: the model called for every word, no memo, no batches, no file
    with monkeypatch.context() as m:
        m.setattr(transliterate, "shared", lambda tgt: transliterate.Transliterator(tgt, memo=False))
        assert shard_digests(build("unmemoised")) == cold


def test_unreadable_transliteration_cache_is_rewritten(private_cache):
    cache = c2k_cache.C2KCache("turbo")
    cache.path.parent.mkdir(parents=True)
    cache.path.write_text('{"format": 1, "pieces": ', encoding="utf-8")  # truncated
    fresh = c2k_cache.C2KCache("turbo")
    assert fresh.memo == {} and fresh.fill(["smith"]) == 1
    assert c2k_cache.C2KCache("turbo").memo == {"smith": "スミス"}


def test_unreadable_or_moved_pickles_are_rebuilt(tmp_path, private_cache, monkeypatch):
    moved = tmp_path / "moved.pickle"  # what an older layout wrote: a class path that no longer exists
    moved.write_bytes(b"ccslib.entity_sources\nEntityLexicon\n(tR.")
    assert load_pickle(moved, es.EntityLexicon) is None
    for data in (b"", b"\x80\x04garbage", pickle.dumps({"not": "a lexicon"})):
        moved.write_bytes(data)
        assert load_pickle(moved, es.EntityLexicon) is None
    built = es.EntityLexicon()
    built.add("Tokyo", "東京", "LOC", "test")
    monkeypatch.setitem(es._SOURCES, "test-names", ("ja", lambda: built))
    monkeypatch.setattr(es, "_IN_PROCESS", {})
    path = es._cache_path("test-names")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"ccslib.entity_sources\nEntityLexicon\n(tR.")
    lex = es.load_entity_source("test-names", cache=True)
    assert lex.lookup(["tokyo"], "LOC")[0].text == "東京"
    assert isinstance(load_pickle(path, es.EntityLexicon), es.EntityLexicon)  # rewritten in the current layout


def test_prefetch_is_skipped_when_a_sample_is_cached_and_misses_still_decode_alike(tmp_path, data_root,
                                                                                   private_cache, monkeypatch, caplog):
    """A rebuild skips the prefetch pass (its sampled sentences' letter runs are all cached); a build whose
    sample is cached but whose other sentences are not transliterates those one by one while switching
    and writes the same shards as a cold build."""
    from cslib import build as build_module

    monkeypatch.setattr(build_module, "PREFETCH_MIN_ROWS", 50)

    def config(name: str) -> BuildConfig:
        return BuildConfig(tgt="ja", data_root=str(data_root), out=str(tmp_path / name), limit=300, shard_size=100,
                           extra_dicts=["none"], entity_sources=["none"], transliterate=True)

    def build(name: str):
        return build_codeswitch(config(name))

    def fresh_process_state():
        for fn in (transliterate.shared, c2k_cache.shared):
            fn.cache_clear()

    cold = shard_digests(build("cold"))
    fresh_process_state()
    with caplog.at_level("INFO", logger="cslib.build"):
        assert shard_digests(build("rebuild")) == cold
    assert "no prefetch" in caplog.text
    for f in private_cache.glob("translit-c2k-turbo-*.json"):
        f.unlink()
    fresh_process_state()
    sw = build_module.prepare_switching(config("sample"))
    sents, _ = build_module.source_sentences(config("sample"))
    sample = sents[:: build_module.PREFETCH_SAMPLE]
    assert sw.transliterator.prefetch(w for s in sample for w in sw.switcher.transliteration_words(s.tokens, s.tags))
    sampled = len(json.loads(next(private_cache.glob("translit-c2k-turbo-*.json")).read_text())["pieces"])
    fresh_process_state()
    caplog.clear()
    with caplog.at_level("INFO", logger="cslib.build"):
        assert shard_digests(build("partial")) == cold
    assert "no prefetch" in caplog.text
    pieces = json.loads(next(private_cache.glob("translit-c2k-turbo-*.json")).read_text(encoding="utf-8"))["pieces"]
    cold_pieces = len(pieces)
    assert sampled < cold_pieces / 2  # most letter runs went through the model one by one while switching
    fresh_process_state()
    assert shard_digests(build("again")) == cold  # the misses were saved
    assert len(json.loads(next(private_cache.glob("translit-c2k-turbo-*.json")).read_text())["pieces"]) == cold_pieces

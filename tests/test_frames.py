"""Frames of the target's text (cslib.frames): mined from real PAN-X text, prepended with valid labels."""

from __future__ import annotations

import json
import random

import pyarrow.parquet as pq

from cslib import BuildConfig, build_codeswitch, load_split
from cslib.frames import FRAME_SOURCE, Frame, FrameConfig, FramePrefixer, mine_frames
from cslib.substitute import Switched
from cslib.validate import row_problem


def _text(data_root, lang: str, n: int = 5000) -> list[list[str]]:
    return [s.tokens for s in load_split("panx", lang, "train", data_root, limit=n)]


def test_redirect_titles_are_frames_and_english_prose_has_none(data_root):
    ar = mine_frames(_text(data_root, "ar"))
    assert [f.tokens for f in ar] == [("تحويل",)]
    assert 0.4 < ar[0].share < 0.6
    fa = mine_frames(_text(data_root, "fa"))
    assert {f.tokens for f in fa} == {("تغییرمسیر",), ("تغییر_مسیر",)}
    # English opens 4% of its sentences with "He", but in long prose sentences: not a frame
    assert mine_frames(_text(data_root, "en")) == []


def test_a_frame_of_several_tokens_is_mined_whole(data_root):
    text = _text(data_root, "zh", 20000)  # characters: "重定向#" is four tokens
    zh = mine_frames(text, FrameConfig.for_language("zh"))
    assert ("重", "定", "向", "#") in [f.tokens for f in zh]
    assert all(len(f.tokens) <= 8 for f in zh)
    assert mine_frames(text) == []  # one token at most: "重" is always followed by "定", not by a title


def test_the_head_of_a_fixed_phrase_is_not_a_frame(data_root):
    # ms: "Komun di jabatan X" (commune in the department X) opens 20% of the sentences and is labeled
    # whole as a place; "Komun" is always followed by "di", a redirect keyword by varied titles
    ms = mine_frames(_text(data_root, "ms", 20000))
    assert [f.tokens for f in ms] == [("LENCONG",)]
    assert mine_frames(_text(data_root, "ms", 20000), FrameConfig(max_next_share=1.01))[0].tokens == ("Komun",)


def test_small_texts_yield_no_frame(data_root):
    text = _text(data_root, "ar")
    assert mine_frames(text[:999]) == []
    assert mine_frames(text[:999], FrameConfig(min_sentences=500)) != []


def _row(tokens: list[str], tags: list[str]) -> Switched:
    return Switched(list(tokens), list(tags), ["en"] * len(tokens), list(range(len(tokens))), 0,
                    sources=[""] * len(tokens))


def test_prefixer_labels_frames_o_and_only_before_entities():
    pre = FramePrefixer([Frame(("重", "定", "向"), 0.3), Frame(("#",), 0.9)], "zh")
    assert pre.rate == FrameConfig().max_rate  # capped at half of the entity-initial rows
    src, tags = ["Atlantic", "City", ",", "New", "Jersey"], ["B-LOC", "I-LOC", "O", "B-LOC", "I-LOC"]
    rng = random.Random(0)
    out = [pre.apply(_row(src, tags), rng) for _ in range(400)]
    framed = [r for r in out if r.tokens[0] in ("重", "#")]
    assert 150 < len(framed) < 250
    for r in framed:
        m = len(r.tokens) - len(src)
        assert r.tags[:m] == ["O"] * m and r.tags[m:] == tags and r.sources[:m] == [FRAME_SOURCE] * m
        assert r.langs[:m] == ["zh"] * m and r.n_switched == 0
        assert row_problem(src, tags, r.tokens, r.tags, r.src_index, r.langs) is None
    prose = _row(["He", "lives", "in", "Paris"], ["O", "O", "O", "B-LOC"])
    assert all(pre.apply(prose, rng) is prose for _ in range(50))
    assert FramePrefixer([], "zh").apply(_row(src, tags), rng).tokens == src


def test_build_prepends_mined_frames_and_no_frames_leaves_rows_as_before(tmp_path, data_root):
    base = dict(src="en", tgt="ar", data_root=str(data_root), limit=300, extra_dicts=[], entity_sources=[])
    on = build_codeswitch(BuildConfig(**base, out=str(tmp_path / "on")))
    off = build_codeswitch(BuildConfig(**base, out=str(tmp_path / "off"), frames=False))
    a = pq.read_table(on / "shard-00000.parquet").to_pylist()
    b = pq.read_table(off / "shard-00000.parquet").to_pylist()
    n_framed = 0
    for x, y in zip(a, b, strict=True):
        m = sum(s == FRAME_SOURCE for s in x["cs_sources"])
        n_framed += m > 0
        assert x["cs_tokens"][m:] == y["cs_tokens"] and x["cs_tags"][m:] == y["cs_tags"]
        if m:
            assert x["cs_tokens"][:m] == ["تحويل"] and y["cs_tags"][0].startswith("B-")
    assert n_framed > 30
    manifest = json.loads((on / "manifest.json").read_text())
    assert manifest["sources"]["frames"][0]["tokens"] == ["تحويل"]
    assert manifest["sources"]["rows_with_source"][FRAME_SOURCE] == n_framed
    assert json.loads((off / "manifest.json").read_text())["sources"]["frames"] == []


def test_benchmark_splits_f1_by_frame_sentences(tmp_path, data_root):
    from pipelines.frame_sentences import frame_sentences, markdown

    dev = load_split("panx", "ar", "dev", data_root, limit=200)
    framed = [s.tokens[0] == "تحويل" for s in dev]
    assert 50 < sum(framed) < 150
    for row, right in (("zero_shot", lambda f: True), ("self_training", lambda f: not f)):
        path = tmp_path / "eval" / row / "seed-13" / "ar" / "sentence_counts.json"
        path.parent.mkdir(parents=True)
        counts = [[1 if right(f) else 0, 1, 1] for f in framed]  # one entity per sentence, found or not
        path.write_text(json.dumps({"columns": ["tp", "predicted", "gold"], "counts": counts}))
    table = frame_sentences(tmp_path, ["ar", "de"], ["zero_shot", "self_training"], str(data_root))
    assert list(table) == ["ar"]  # de: not evaluated here
    e = table["ar"]
    assert e["frames"][0]["tokens"] == ["تحويل"] and e["share"] == sum(framed) / 200
    assert e["zero_shot"] == {"framed": 1.0, "rest": 1.0}
    assert e["self_training"] == {"framed": 0.0, "rest": 1.0}
    assert "| ar | تحويل |" in markdown(table, ["zero_shot", "self_training"])

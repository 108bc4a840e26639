from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from cslib import CodeSwitcher, Dictionary, SwitchConfig, row_problem
from cslib.iob import entity_types, spans

WORDS = ["the", "big", "house", "new", "york", "city", "john", "smith", "river", "of", "and", "bank"]


def make_dict(tgt: str = "ja") -> Dictionary:
    d = Dictionary("en", tgt)
    pairs = {"the": "その", "big": "大きい", "house": "家", "new york": "ニューヨーク", "york": "ヨーク",
             "city": "市", "john": "ジョン", "smith": "スミス", "river": "川", "bank": "銀行"}
    for s, t in pairs.items():
        d.add(s, t, "test")
    return d


@st.composite
def labeled(draw):
    n = draw(st.integers(1, 14))
    tokens = [draw(st.sampled_from(WORDS)).capitalize() if draw(st.booleans()) else draw(st.sampled_from(WORDS))
              for _ in range(n)]
    tags, prev = [], None
    for _ in range(n):
        choice = draw(st.sampled_from(["O", "B", "I"]))
        typ = draw(st.sampled_from(["PER", "LOC", "ORG"]))
        if choice == "I" and prev:
            tags.append(f"I-{prev}")
        elif choice == "O":
            tags.append("O")
            prev = None
            continue
        else:
            tags.append(f"B-{typ}")
            prev = typ
            continue
    return tokens, tags


@settings(max_examples=300, deadline=None)
@given(labeled(), st.floats(0, 1), st.integers(0, 10_000), st.sampled_from(["ja", "zh"]),
       st.sampled_from(["auto", "words"]), st.sampled_from(["unit", "keep"]))
def test_labels_always_valid_and_entities_preserved(sent, ratio, seed, tgt, seg, mode):
    tokens, tags = sent
    d = make_dict("ja")
    d.tgt_lang = tgt  # same targets, exercising zh segmentation too
    sw = CodeSwitcher(d, SwitchConfig(ratio=ratio, segment=seg, entity_mode=mode))
    r = sw.switch(tokens, tags, random.Random(seed))
    assert row_problem(tokens, tags, r.tokens, r.tags, r.src_index, r.langs) is None
    assert entity_types(r.tags) == entity_types(tags)
    if mode == "keep":
        for s_src, s_cs in zip(spans(tags), spans(r.tags), strict=True):
            assert r.tokens[s_cs.start:s_cs.end] == tokens[s_src.start:s_src.end]


def test_entity_switched_as_unit_with_b_then_i():
    sw = CodeSwitcher(make_dict(), SwitchConfig(ratio=1.0, segment="chars"))
    r = sw.switch(["I", "love", "New", "York", "City"], ["O", "O", "B-LOC", "I-LOC", "I-LOC"], random.Random(0))
    # No entry for 'new york city': covered by 'new york' + 'city', then split into characters.
    assert r.tokens == ["I", "love", *"ニューヨーク市"]
    assert r.tags == ["O", "O", "B-LOC"] + ["I-LOC"] * 6
    assert r.langs == ["en", "en"] + ["ja"] * 7 and r.n_switched == 3
    assert r.src_index == [0, 1, 2, 2, 2, 3, 3, 4, 4]  # proportional within the replaced span
    # An entity that cannot be covered entirely stays in the source language.
    r = sw.switch(["Paris", "Bank"], ["B-ORG", "I-ORG"], random.Random(0))
    assert r.tokens == ["Paris", "Bank"] and r.tags == ["B-ORG", "I-ORG"]


def test_longest_match_and_keep_mode():
    d = make_dict()
    assert d.longest_match(["new", "york", "city"], 0)[0] == 2
    sw = CodeSwitcher(d, SwitchConfig(ratio=1.0, entity_mode="keep", segment="words"))
    r = sw.switch(["John", "saw", "the", "river"], ["B-PER", "O", "O", "O"], random.Random(1))
    assert r.tokens == ["John", "saw", "その", "川"] and r.tags == ["B-PER", "O", "O", "O"]
    assert r.src_index == [0, 1, 2, 3] and r.langs == ["en", "en", "ja", "ja"]


def test_dictionary_filters_untranslated_entries():
    d = Dictionary("en", "ja")
    assert not d.add("was", "was", "muse")  # identity
    assert not d.add("for", "for", "muse")
    assert not d.add("ok", "OK", "muse")  # Latin target for a non-Latin language
    assert not d.add("1999", "1999", "muse")
    assert d.add("water", "水", "muse") and not d.add("water", "水", "other")  # dedup
    de = Dictionary("en", "de")
    assert de.add("house", "Haus", "muse")
    zh = Dictionary("en", "zh")  # case-blind lookup would turn "it is" into 信息技术 是
    assert not zh.add("IT", "信息技术", "cedict") and not zh.add("the WHO", "世卫", "cedict")
    assert zh.add("It", "它", "muse") and zh.lookup(["it"])[0].text == "它"


def test_same_seed_same_output():
    sw = CodeSwitcher(make_dict(), SwitchConfig(ratio=0.5))
    toks, tags = ["the", "big", "house", "of", "John", "Smith"], ["O", "O", "O", "O", "B-PER", "I-PER"]
    a = [sw.switch(toks, tags, random.Random(f"7:{i}")).tokens for i in range(20)]
    b = [sw.switch(toks, tags, random.Random(f"7:{i}")).tokens for i in range(20)]
    assert a == b and len({tuple(x) for x in a}) > 1

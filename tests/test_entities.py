"""Entity sources (JMnedict, CC-CEDICT names, lexicon files), transliteration, senses, Chinese script,
and type safety of entity replacements, on the installed packages' real data."""

from __future__ import annotations

import json
import random
import re

import pytest

from cslib import CodeSwitcher, Dictionary, SwitchConfig, row_problem
from cslib.cli import main
from cslib.iob import spans
from cslib.lexicons import entity_sources as es
from cslib.lexicons.senses import SenseConfig, weigh_dictionary, word_frequency

KATAKANA = re.compile(r"^[\u30a0-\u30ff]+$")
HAN = re.compile(r"^[\u3400-\u9fff\U00020000-\U0003ffff·]+$")


@pytest.fixture(scope="module")
def jmnedict() -> es.EntityLexicon:
    return es.jmnedict_entries(prefixes=["Tokyo", "Toyota", "Shinz", "Washington", "Paris", "Kyoto"])


@pytest.fixture(scope="module")
def cedict_names() -> es.EntityLexicon:
    return es.cedict_name_entries()


def texts(lex: es.EntityLexicon, words: list[str], typ: str) -> list[str]:
    return [e.text for e in lex.lookup(words, typ)]


def test_jmnedict_lookup_is_typed(jmnedict):
    assert texts(jmnedict, ["Tokyo"], "LOC") == ["東京"]
    assert texts(jmnedict, ["TOYOTA"], "ORG") == ["トヨタ"]  # the company, case-blind
    assert "トヨタ" not in texts(jmnedict, ["Toyota"], "PER")  # the company is not a person
    assert texts(jmnedict, ["Shinzo", "Abe"], "PER") == ["安倍晋三"]  # macron folded: Shinzō
    assert texts(jmnedict, ["Washington"], "PER") == []  # JMnedict has it as a place only
    assert "ワシントン" in texts(jmnedict, ["Washington"], "LOC")


def test_cedict_proper_nouns_are_typed(cedict_names):
    assert len(cedict_names) > 3000
    assert texts(cedict_names, ["Barack", "Obama"], "PER") == ["奥巴马"]
    assert "东京" in texts(cedict_names, ["Tokyo"], "LOC")
    assert "伦敦" in texts(cedict_names, ["London"], "LOC")
    assert texts(cedict_names, ["Tokyo"], "PER") == []
    for _, e in cedict_names.items():
        assert e.type in es.ENTITY_TYPES and HAN.match(e.text) and len(e.text) >= 2, e


def test_transliteration_offline_ja_and_zh():
    from cslib.lexicons.transliterate import Transliterator

    ja = Transliterator("ja")
    kata = ja.word("Knausgård")
    assert kata and KATAKANA.match(kata)
    assert ja.word("Karl") == "カール" and ja.word("of") == "オブ"
    assert ja.word("(") is None and ja.word("19th") == "19"
    zh = Transliterator("zh")
    assert zh.word("Karl") == "卡尔" and zh.word("Obama") == "奥巴马"
    assert HAN.match(zh.word("Knausgård"))


def test_entity_lexicon_file(tmp_path, capsys):
    good = tmp_path / "lex.tsv"
    good.write_text("# comment\nAtlantic City\tアトランティックシティ\tLOC\nFoo Bar\tフーバー\n", encoding="utf-8")
    lex = es.read_entity_lexicon(good)
    assert texts(lex, ["atlantic", "city"], "LOC") == ["アトランティックシティ"]
    assert texts(lex, ["atlantic", "city"], "PER") == []
    assert texts(lex, ["Foo", "Bar"], "PER") == ["フーバー"]  # no type column: serves every type
    bad = tmp_path / "bad.tsv"
    bad.write_text("Tokyo\t東京\tLOC\nonly-one-column\n", encoding="utf-8")
    with pytest.raises(es.CslibError, match=r"bad.tsv:2: expected 'source<TAB>target"):
        es.read_entity_lexicon(bad)
    assert main(["build", "--tgt", "ja", "--limit", "5", "--entity-lexicon", str(bad), "--out",
                 str(tmp_path / "o")]) == 2
    assert "bad.tsv:2:" in capsys.readouterr().err


def test_a_person_is_never_replaced_by_a_place_name():
    """Typed lookup: 'Paris' (PER, e.g. Paris Hilton) gets a PER name or stays; never the city."""
    d = Dictionary("en", "ja")
    d.add("paris", "パリ市", "muse")  # the untyped word dictionary knows the city
    lex = es.EntityLexicon()
    lex.add("Paris", "パリ", "LOC", "jmnedict")
    lex.add("Hilton", "ヒルトン", "PER", "jmnedict")
    lex.add("Hilton", "ヒルトンホテル", "ORG", "jmnedict")
    sw = CodeSwitcher(d, SwitchConfig(ratio=1.0), entities=lex)
    tokens, tags = ["Paris", "Hilton", "visited", "Paris"], ["B-PER", "I-PER", "O", "B-LOC"]
    for seed in range(50):
        r = sw.switch(tokens, tags, random.Random(seed))
        assert row_problem(tokens, tags, r.tokens, r.tags, r.src_index, r.langs) is None
        per, loc = spans(r.tags)
        per_text = "".join(r.tokens[per.start:per.end])
        assert "パリ" not in per_text and "ホテル" not in per_text
        assert "".join(r.tokens[loc.start:loc.end]) in ("パリ", "パリ市")
    # a PER with a person entry for every word is composed, with the name dot
    r = CodeSwitcher(d, SwitchConfig(ratio=1.0), entities=lex).switch(["Hilton"], ["B-PER"], random.Random(0))
    assert "".join(r.tokens) == "ヒルトン" and r.sources == ["jmnedict"] * 4


def test_replace_mode_uses_a_target_entity_of_the_same_type(tmp_path):
    lex = es.EntityLexicon()
    for src, tgt, typ in [("豊田市", "豊田市", "LOC"), ("トヨタ自動車", "トヨタ自動車", "ORG"), ("安倍晋三", "安倍晋三", "PER")]:
        lex.add(src, tgt, typ, "replace")
    d = Dictionary("en", "ja")
    d.add("visited", "訪問した", "muse")
    sw = CodeSwitcher(d, SwitchConfig(ratio=1.0, entity_mode="replace"), entities=lex)
    tokens = ["John", "Smith", "visited", "Acme", "Corp", "in", "Ohio"]
    tags = ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "O", "B-LOC"]
    r = sw.switch(tokens, tags, random.Random(1))
    assert row_problem(tokens, tags, r.tokens, r.tags, r.src_index, r.langs) is None
    got = {s.type: "".join(r.tokens[s.start:s.end]) for s in spans(r.tags)}
    assert got == {"PER": "安倍晋三", "ORG": "トヨタ自動車", "LOC": "豊田市"}


def test_frequency_weighting_drops_far_rarer_senses():
    assert word_frequency("中", "ja") > 10 * word_frequency("イン", "ja")
    assert word_frequency("國際", "zh") == word_frequency("国际", "zh") > 0  # Traditional looked up as Simplified

    def make(mode: str) -> Dictionary:
        d = Dictionary("en", "ja")
        for t in ("リバー", "川", "河"):  # wordfreq: 4.8e-6, 6.3e-5, 7.9e-6
            d.add("river", t, "muse")
        weigh_dictionary(d, SenseConfig(mode=mode, min_ratio=0.1))
        return d

    freq = make("freq")
    options = freq.lookup(["river"])
    assert [o.text for o in options] == ["川", "河"]  # リバー is 13x rarer than 川: dropped
    sw = CodeSwitcher(freq, SwitchConfig(ratio=1.0))
    rng = random.Random(0)
    picks = [sw.switch(["river"], ["O"], rng).tokens[0] for _ in range(300)]
    assert picks.count("川") > 240  # weighted: 6.3e-5 against 7.9e-6
    uniform = make("uniform")  # the choice before senses: every translation, alike
    assert [(o.text, o.weight) for o in uniform.lookup(["river"])] == [("リバー", 1.0), ("川", 1.0), ("河", 1.0)]
    # a frequent (function) word keeps no translation far rarer than itself, even its only one
    d = Dictionary("en", "zh")
    d.add("he", "夫", "muse")
    d.add("house", "房子", "muse")
    weigh_dictionary(d, SenseConfig())
    assert d.lookup(["he"]) == [] and [o.text for o in d.lookup(["house"])] == ["房子"]


def test_zh_script_variants_and_one_script_per_row():
    from cslib.lexicons.script import script_mix, to_simplified, to_traditional, variants

    assert to_simplified("國際") == "国际" and to_traditional("国际") == "國際"
    assert variants("國際", "both") == ["国际", "國際"] and variants("東京", "simplified") == ["东京"]
    assert script_mix(["国际", "國際"]) == {"traditional": 0.5, "simplified": 0.5, "script_specific_chars": 4}
    d = Dictionary("en", "zh")
    d.add("international", "国际", "cedict")
    d.add("conference", "会议", "cedict")
    sw = CodeSwitcher(d, SwitchConfig(ratio=1.0), zh_script="both")
    rows = {"".join(sw.switch(["international", "conference"], ["O", "O"], random.Random(s)).tokens)
            for s in range(40)}
    assert rows == {"国际会议", "國際會議"}  # never 国际會議


def test_default_build_uses_every_source_and_records_them(tmp_path, data_root, capsys):
    out = tmp_path / "ja"
    assert main(["build", "--tgt", "ja", "--data-root", str(data_root), "--out", str(out), "--limit", "300"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    src = manifest["sources"]
    assert src["mode"] == "dict" and src["entity_sources"] == ["jmnedict"] and src["transliteration"] == "translit"
    assert {"muse", "jmdict"} <= set(src["dictionaries"])
    capsys.readouterr()
    assert main(["stats", str(out), "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["entities_switched_overall"] > 0.6 and min(st["entities_switched_fraction"].values()) > 0.4
    assert {"jmnedict", "translit"} <= set(st["entity_switch_by_source"])
    assert set(st["unswitched_rows"]) <= {"not_drawn", "entity_only_no_entry", "no_entry_for_words_or_entities",
                                          "no_dictionary_hit"}
    assert main(["validate", str(out)]) == 0
    two = tmp_path / "ja2"  # names and transliteration keep the bytes independent of the worker count
    assert main(["build", "--tgt", "ja", "--data-root", str(data_root), "--out", str(two), "--limit", "300",
                 "--workers", "2", "--shard-size", "150"]) == 0
    one = tmp_path / "ja1"
    assert main(["build", "--tgt", "ja", "--data-root", str(data_root), "--out", str(one), "--limit", "300",
                 "--shard-size", "150"]) == 0
    assert [p.read_bytes() for p in sorted(one.glob("shard-*"))] == [p.read_bytes() for p in sorted(two.glob("shard-*"))]
    # ner reads the shards: the new optional columns are ignored by its schema check
    from ner.data.shards import load_pairs

    assert len(load_pairs([str(out)])[0]) == 300

"""Code-switching in any direction: into English from ja/zh/de (inverted
resources), between two other languages through English (pivot), and zh/ja sources given as
characters, whose units never cut a word."""

from __future__ import annotations

import json
import random

import pytest

from cslib import BuildConfig, CodeSwitcher, Dictionary, SwitchConfig, iter_rows, row_problem
from cslib.cli import main
from cslib.inspection.report import stats, validate_dir
from cslib.iob import spans
from cslib.lexicons import Translation, direction, resolved_mode
from cslib.lexicons.pivot import compose
from cslib.lexicons.sources import merge_case


def build(tmp_path, data_root, src: str, tgt: str, *flags: str, limit: int = 300):
    out = tmp_path / f"{src}-{tgt}"
    assert main(["build", "--src", src, "--tgt", tgt, "--data-root", str(data_root), "--out", str(out),
                 "--limit", str(limit), "--shard-size", "150", *flags]) == 0
    n, problems = validate_dir(out)
    assert n == limit and problems == []
    return out, json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_ja_to_en_with_no_flags(tmp_path, data_root):
    """MUSE en-ja inverted, JMdict ranked per Japanese word, JMnedict names keyed by their spelling."""
    out, manifest = build(tmp_path, data_root, "ja", "en")
    src = manifest["sources"]
    assert src["direction"] == "inverse" and src["mode"] == "dict" and src["entity_sources"] == ["jmnedict"]
    assert {"muse", "jmdict"} <= set(src["dictionaries"]) and src["transliteration"] is None
    st = stats(out)
    assert st["rows_switched_fraction"] >= 0.3 and st["entities_switched_overall"] > 0.3
    assert "jmnedict" in st["entity_switch_by_source"]
    names = []
    for r in iter_rows(out):
        for s in spans(r["cs_tags"]):
            if r["cs_langs"][s.start] == "en":  # a switched entity: English, title-cased, no kana left
                text = " ".join(r["cs_tokens"][s.start:s.end])
                assert not any("\u3040" <= c <= "\u30ff" for c in text), text
                assert text[:1].isupper() or not text[:1].isalpha(), text
                names.append(text)
    assert len(names) > 50 and {"Japan", "Tokyo", "France", "America"} & set(names)


def test_de_to_es_pivots_through_english(tmp_path, data_root):
    out, manifest = build(tmp_path, data_root, "de", "es")
    src = manifest["sources"]
    assert src["direction"] == "pivot" and src["pivot"] == "en" and src["entity_sources"] == []
    assert set(src["legs"]) == {"de-en", "en-es"} and src["legs"]["de-en"]["direction"] == "inverse"
    assert src["composition"]["composed"] > 10_000 and set(src["dictionaries"]) == {"muse>muse"}
    assert src["person_names"] == "kept"
    st = stats(out)
    assert st["rows_switched_fraction"] >= 0.3 and st["entities_switched_fraction"]["PER"] == 0.0
    assert st["entities_switched_fraction"]["LOC"] > 0


def test_zh_to_en_and_swahili_to_en_by_swapped_tatoeba(tmp_path, data_root):
    _, manifest = build(tmp_path, data_root, "zh", "en", limit=150)
    assert manifest["sources"]["entity_sources"] == ["cedict-names"] and "cedict" in manifest["sources"]["dictionaries"]
    assert manifest["counts"]["rows_switched"] >= 45
    cfg = BuildConfig(src="sw", tgt="en", data_root=str(data_root))
    assert direction(cfg) == "inverse" and resolved_mode(cfg) == "align"  # no MUSE en-sw: Tatoeba, sides swapped
    _, manifest = build(tmp_path, data_root, "sw", "en", limit=100)
    assert manifest["sources"]["mode"] == "align" and manifest["sources"]["dictionaries"]["align"] > 50


def test_zh_characters_are_never_switched_half_a_word():
    d = Dictionary("zh", "en")
    for src, tgt in [("大学", "university"), ("大", "big"), ("学生", "student"), ("学习", "study"), ("在", "at")]:
        d.add(src, tgt, "test")
    sw = CodeSwitcher(d, SwitchConfig(ratio=1.0))
    tokens = list("大学生在学习")  # jieba: 大学生 / 在 / 学习
    for seed in range(20):
        r = sw.switch(tokens, ["O"] * len(tokens), random.Random(seed))
        assert r.tokens == ["大", "学", "生", "at", "study"]  # no entry for the word 大学生: it stays whole
    d.add("大學生", "college student", "test")  # Traditional: keyed in Simplified, matches either
    r = sw.switch(tokens, ["O"] * len(tokens), random.Random(0))
    assert r.tokens[:2] == ["college", "student"] and r.src_index[:2] == [0, 1]
    # word tokens (raw text) meet the same entries
    r = sw.switch(["大学生", "在", "学习"], ["O"] * 3, random.Random(0))
    assert r.tokens == ["college", "student", "at", "study"]
    # an entity cut inside a word: units stop at its edges, and it is switched whole or not at all
    tags = ["B-ORG", "I-ORG", "O", "O", "O", "O"]
    r = sw.switch(tokens, tags, random.Random(0))
    assert row_problem(tokens, tags, r.tokens, r.tags, r.src_index, r.langs) is None
    assert r.tokens == ["University", "生", "at", "study"]  # 学生 would start inside the word 大学生


def test_japanese_function_words_and_lone_kana_stay():
    d = Dictionary("ja", "en")
    for src, tgt in [("奨学", "scholarship"), ("生", "raw"), ("に", "in"), ("東京", "Tokyo"), ("い", "be")]:
        d.add(src, tgt, "test")
    assert d.lookup(["い"]) == []  # a lone kana is never a dictionary entry
    sw = CodeSwitcher(d, SwitchConfig(ratio=1.0))
    tokens = list("奨学生は東京に")  # 奨学 / 生 (suffix) / は / 東京 / に (particle)
    r = sw.switch(tokens, ["O"] * len(tokens), random.Random(0))
    assert r.tokens == ["scholarship", "生", "は", "Tokyo", "に"]


def test_persons_and_case_from_other_languages():
    d = Dictionary("de", "en")
    for src, tgt in [("müller", "miller"), ("vereinigte staaten", "united states"), ("haus", "house")]:
        d.add(src, tgt, "muse")
    sw = CodeSwitcher(d, SwitchConfig(ratio=1.0))
    tokens = ["Thomas", "Müller", "kauft", "ein", "Haus", "in", "den", "Vereinigte", "Staaten"]
    tags = ["B-PER", "I-PER", "O", "O", "O", "O", "O", "B-LOC", "I-LOC"]
    r = sw.switch(tokens, tags, random.Random(0))
    assert row_problem(tokens, tags, r.tokens, r.tags, r.src_index, r.langs) is None
    assert r.tokens[:2] == ["Thomas", "Müller"]  # a person is not translated word by word
    assert "house" in r.tokens and r.tokens[-2:] == ["United", "States"]  # a German noun's capital is not a name's
    assert d.identical == set()
    d.add("bank", "Bank", "muse")
    assert ("bank",) in d.identical


def test_pivot_composition_on_a_tiny_dictionary():
    first = Dictionary("de", "en")
    first.entries = {("haus",): [Translation("house", "muse", 3.0), Translation("home", "jmdict", 1.0)],
                     ("bank",): [Translation("bank", "muse", 1.0), Translation("bench", "muse", 1.0)],
                     ("gehen",): [Translation("go", "muse", 2.0), Translation("walk", "muse", 2.0)],
                     ("hotel",): [Translation("hotel", "muse", 1.0)],
                     ("xyz",): [Translation("nothing", "muse", 1.0)]}
    second = Dictionary("en", "es")
    second.entries = {("house",): [Translation("casa", "muse", 1.0)],
                      ("home",): [Translation("hogar", "muse", 1.0), Translation("casa", "muse", 1.0)],
                      ("bank",): [Translation("banco", "muse", 3.0), Translation("orilla", "muse", 1.0)],
                      ("bench",): [Translation("banco", "muse", 1.0)],
                      ("go",): [Translation(w, "muse", 1.0) for w in ("ir", "irse", "andar", "pasar", "salir",
                                                                          "marchar", "acudir")],
                      ("walk",): [Translation("caminar", "muse", 3.0), Translation("andar", "muse", 1.0)],
                      ("hotel",): [Translation("hotel", "muse", 1.0)]}
    d, counts = compose(first, second)
    got = {k[0]: [(t.text, round(t.weight, 4), t.origin) for t in v] for k, v in d.entries.items()}
    # p(casa) = 3/4 * 1 + 1/4 * 1/2; the likeliest path names the origin
    assert got["haus"] == [("casa", 0.875, "muse>muse"), ("hogar", 0.125, "jmdict>muse")]
    assert got["bank"] == [("banco", 0.875, "muse>muse"), ("orilla", 0.125, "muse>muse")]
    # "go" becomes 7 different Spanish words: an ambiguous pivot, left out while "walk" remains
    assert got["gehen"] == [("caminar", 0.75, "muse>muse"), ("andar", 0.25, "muse>muse")]
    assert "hotel" not in got and "xyz" not in got  # the same word in Spanish; no Spanish for "nothing"
    assert counts == {"ambiguous_pivots_dropped": 1, "composed": 3, "dropped_rare": 1, "no_pivot_translation": 1,
                      "phrases": 5}


def test_merge_case_keeps_the_capitalised_spelling():
    d = Dictionary("ja", "en")
    d.add("日本", "japan", "muse")
    d.add("日本", "Japan", "jmdict")
    d.add("日本", "japanese", "muse")
    assert merge_case(d) == 1
    assert [(t.text, t.origin) for t in d.lookup(["日", "本"])] == [("Japan", "jmdict"), ("japanese", "muse")]


def test_text_task_reads_an_unlabeled_shard_set(tmp_path, data_root):
    """The target view: unlabeled ja sentences (characters) code-switched into English."""
    pool = tmp_path / "unl-ja"
    assert main(["unlabeled", "--lang", "ja", "--data-root", str(data_root), "--limit", "60", "--shard-size", "25",
                 "--out", str(pool)]) == 0
    out = tmp_path / "view"
    assert main(["build", "--task", "text", "--src", "ja", "--tgt", "en", "--input", str(pool), "--text-field",
                 "tokens", "--data-root", str(data_root), "--out", str(out), "--limit", "50"]) == 0
    assert validate_dir(out) == (50, [])
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["task"]["text_types"] == {"tokens": "tokens"} and manifest["task"]["carried"] == ["lang"]
    assert manifest["sources"]["direction"] == "inverse" and manifest["inputs"][0]["path"].endswith("manifest.json")
    rows = list(iter_rows(out))
    assert rows[0]["id"] == "ja-en:ja:0:0" and sum(r["n_switched"] > 0 for r in rows) >= 15
    one = tmp_path / "one"  # a single shard of it is a Parquet input as well
    assert main(["build", "--task", "text", "--src", "ja", "--tgt", "en", "--input", str(pool / "shard-00000.parquet"),
                 "--text-field", "tokens", "--data-root", str(data_root), "--out", str(one)]) == 0
    assert [r["cs_tokens"] for r in iter_rows(one)] == [r["cs_tokens"] for r in rows[:25]]


@pytest.mark.parametrize("argv, needle", [
    (["--src", "de", "--tgt", "es", "--entity-source", "jmnedict"], "typed name sources serve builds from or into"),
    (["--src", "ja", "--tgt", "en", "--extra-dict", "cedict"], "--extra-dict cedict pairs zh with English, not ja"),
])
def test_direction_errors_are_one_line(tmp_path, data_root, capsys, argv, needle):
    assert main(["build", *argv, "--data-root", str(data_root), "--out", str(tmp_path / "o"), "--limit", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # log lines may come first
    assert err[-1].startswith("cslib: error: ") and needle in err[-1]
    assert not any("Traceback" in line for line in err)

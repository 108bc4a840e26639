"""English names written by rule in the target's script (`cslib.lexicons.by_sound`), Moses tokens that
keep combining marks, and what they give a build: en→my switches names only (mode `names`), en→kk
writes its names in Cyrillic by default, a dictionary target only with --transliterate, and every
switched sentence keeps its entities (real data, real builds)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from cslib import BuildConfig, CslibError, build_codeswitch, iter_rows, validate_dir
from cslib.iob import spans
from cslib.lexicons import by_sound
from cslib.lexicons.induce import InduceConfig, induced_lexicon
from cslib.lexicons.sources import build_transliterator
from cslib.tokenizers import word_tokenize

SCRIPTS = {"ru": "CYRILLIC", "kk": "CYRILLIC", "bg": "CYRILLIC", "ka": "GEORGIAN", "el": "GREEK", "he": "HEBREW",
           "hi": "DEVANAGARI", "mr": "DEVANAGARI", "bn": "BENGALI", "ta": "TAMIL", "te": "TELUGU",
           "ml": "MALAYALAM", "my": "MYANMAR", "ur": "ARABIC"}


def test_english_spelling_to_sounds() -> None:
    assert by_sound.sounds("Washington") == ["w", "a", "sh", "i", "n", "g", "t", "o", "n"]
    assert by_sound.sounds("France") == ["f", "r", "a", "n", "s"]  # silent e, soft c
    assert by_sound.sounds("Philippe") == ["f", "i", "l", "i", "p"]
    assert by_sound.sounds("Knight") == ["n", "i", "t"]
    assert by_sound.sounds("Commission") == ["k", "o", "m", "i", "sh", "o", "n"]


@pytest.mark.parametrize("lang", sorted(SCRIPTS))
def test_every_letter_is_in_the_targets_script(lang: str) -> None:
    t = by_sound.SoundTransliterator(lang)
    for word in ("Berlin", "Washington", "Knausgård", "Zürich", "Thompson", "Xavier", "Quebec", "Jeffrey"):
        text = t.word(word)
        assert text, (lang, word)
        letters = [c for c in text if unicodedata.category(c)[0] == "L"]
        assert letters and all(unicodedata.name(c).startswith(SCRIPTS[lang]) for c in letters), (lang, word, text)
    assert t.word("Apollo11")[-2:] == "11" and t.word("1968") is None and t.word("--") is None


def test_known_spellings_and_case() -> None:
    ru, ka = by_sound.SoundTransliterator("ru"), by_sound.SoundTransliterator("ka")
    assert (ru.word("Berlin"), ru.word("Washington"), ru.word("berlin")) == ("Берлин", "Вашингтон", "берлин")
    assert ka.word("Berlin") == "ბერლინი"  # Georgian: the nominative -ი, no Mtavruli capital
    assert by_sound.SoundTransliterator("hi").word("Berlin") == "बेर्लिन"  # no final virama in Devanagari
    assert by_sound.SoundTransliterator("te").word("Berlin").endswith("్")  # Telugu keeps it
    assert by_sound.SoundTransliterator("ml").word("Berlin").endswith("ൻ")  # Malayalam: chillu n
    assert by_sound.SoundTransliterator("el").word("Paris") == "Παρις"  # final sigma


def test_moses_keeps_combining_marks_and_joiners() -> None:
    assert word_tokenize("တည်ရှိသည် ဗုဒ္ဓဂါယာရှိ", "my") == ["တည်ရှိသည်", "ဗုဒ္ဓဂါယာရှိ"]
    assert word_tokenize("Ìbílẹ̀ ilẹ̀ , Jẹ́mánì", "yo") == ["Ìbílẹ̀", "ilẹ̀", ",", "Jẹ́mánì"]
    assert word_tokenize("سنگ\u200cنگاره بود", "fa") == ["سنگ\u200cنگاره", "بود"]
    assert word_tokenize("Hello, world (x).", "en") == ["Hello", ",", "world", "(", "x", ")", "."]


def _entities(tags: list[str]) -> list[str]:
    return [s.type for s in spans(tags)]


def test_names_only_build_for_a_language_without_words(tmp_path: Path, data_root: Path) -> None:
    cfg = BuildConfig(src="en", tgt="my", limit=200, out=str(tmp_path / "my"), data_root=str(data_root), seed=5,
                      induce=False, cldr=False)
    assert cfg.resolved_mode() == "induce"
    build_codeswitch(cfg)
    n_rows, problems = validate_dir(tmp_path / "my")
    assert n_rows == 200 and problems == []
    rows = list(iter_rows(tmp_path / "my"))
    switched = [r for r in rows if r["n_switched"] > 0]
    assert len(switched) / len(rows) >= 0.25
    for r in rows:
        assert _entities(r["cs_tags"]) == _entities(r["src_tags"])  # every entity kept, in order, with its type
        for tok, tag, lang in zip(r["cs_tokens"], r["cs_tags"], r["cs_langs"], strict=True):
            if lang == "my":  # switched: a name's word, in Burmese letters (its digits kept)
                assert tag != "O", (tok, tag)
                assert all(unicodedata.name(c).startswith("MYANMAR") for c in tok if c.isalpha()), tok


def test_transliteration_defaults(data_root: Path) -> None:
    kk = BuildConfig(src="en", tgt="kk", data_root=str(data_root))
    assert isinstance(build_transliterator(kk), by_sound.SoundTransliterator)
    ru = BuildConfig(src="en", tgt="ru", data_root=str(data_root))
    assert build_transliterator(ru) is None  # a dictionary target: off unless asked
    assert isinstance(build_transliterator(BuildConfig(src="en", tgt="ru", transliterate=True)),
                      by_sound.SoundTransliterator)
    assert build_transliterator(BuildConfig(src="en", tgt="kk", transliterate=False, data_root=str(data_root))) is None
    assert isinstance(build_transliterator(BuildConfig(src="en", tgt="de", transliterate=True)), by_sound.LatinNames)
    with pytest.raises(CslibError, match="no transliterator for 'ko'"):
        build_transliterator(BuildConfig(src="en", tgt="ko", transliterate=True))


def test_latin_names_are_kept_and_never_a_switch_alone(tmp_path: Path, data_root: Path) -> None:
    cfg = BuildConfig(src="en", tgt="sw", limit=300, out=str(tmp_path / "sw"), data_root=str(data_root), seed=5)
    assert cfg.resolved_mode() == "align" and isinstance(build_transliterator(cfg), by_sound.LatinNames)
    build_codeswitch(cfg)
    n_rows, problems = validate_dir(tmp_path / "sw")
    assert n_rows == 300 and problems == []
    seen = 0
    for r in iter_rows(tmp_path / "sw"):
        assert _entities(r["cs_tags"]) == _entities(r["src_tags"])
        for sp in spans(r["cs_tags"]):
            origins = set(r["cs_sources"][sp.start:sp.end]) - {""}
            if any(lang == "sw" for lang in r["cs_langs"][sp.start:sp.end]):
                assert origins - {"kept"}, (r["cs_tokens"], origins)  # a translated word, not only names kept
                seen += "kept" in "+".join(origins)
    assert seen > 0  # entities switched with their names kept occur


def test_a_language_with_no_source_of_any_kind_fails_in_one_line(tmp_path: Path, data_root: Path) -> None:
    # yo has no dictionary and no parallel text, and its names stay as they are: without induction and
    # CLDR's names, nothing
    cfg = BuildConfig(src="en", tgt="yo", limit=20, out=str(tmp_path / "yo"), data_root=str(data_root), induce=False,
                      cldr=False)
    with pytest.raises(CslibError, match="nothing to switch with") as err:
        build_codeswitch(cfg)
    assert "\n" not in str(err.value) and not (tmp_path / "yo" / "manifest.json").exists()
    with pytest.raises(CslibError, match="it needs at least 10000") as err:
        induced_lexicon("en", "yo", InduceConfig(min_target_words=10_000), str(data_root))
    assert "\n" not in str(err.value)

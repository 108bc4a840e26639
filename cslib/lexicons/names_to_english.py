"""Typed names into English, for builds from ja or zh (`cslib build --src ja --tgt en`).

The same sources as `entity_sources`, read the other way round and keyed by the name's own
spelling (`EntityLexicon.lang`: 東京, ソマリランド, 奥巴马):

- JMnedict: every kanji spelling and every katakana one (foreign names: ソマリランド →
  Somaliland) of an entry gives its English gloss. A kanji name has many readings (中村:
  Nakamura, Nakanura, Okamura, ...): English word frequency ranks them (Nakamura is the
  one English text knows), then the typed readings before "unclass" ones and JMnedict's
  order. Macrons are dropped (Shinzō Abe → Shinzo Abe), as English text writes them.
- CC-CEDICT proper nouns: the Traditional and Simplified headwords give the English name.

Both are cached like the forward sources (pickles named `NAME-to-en-TAG`).
"""

from __future__ import annotations

import unicodedata

from ..errors import CslibError
from .entity_sources import (
    _CJK_IDEOGRAPH,
    _PACKAGES,
    EntityLexicon,
    _name_gloss,
    cedict_proper_nouns,
    jmnedict_tables,
    load_built,
)
from .senses import frequency_table

_KATAKANA_NAME = frozenset(chr(c) for c in range(0x30A0, 0x3100))
_MACRON = "\u0304"


def plain(name: str) -> str:
    """A romanised name as English writes it: macrons dropped (ō → o), other accents kept (Müller)."""
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", name) if c != _MACRON))


def jmnedict_to_english(max_targets: int = 2) -> EntityLexicon:
    """Typed Japanese name → English name, from JMnedict (module docstring)."""
    rows, kanji, kana, types, raw_types = jmnedict_tables()
    freq = frequency_table("en")
    scored: dict[tuple[str, str], dict[str, tuple]] = {}
    for idseq, tid, gloss in rows:
        typs = types.get(tid)
        name = _name_gloss(gloss) if typs else None
        if name is None:
            continue
        name = plain(name).replace(" 's", "'s")
        words = name.lower().split()
        f = min((freq.get(w, 0.0) for w in words), default=0.0)
        rank = (-f, raw_types.get(tid) == "unclass", idseq)
        heads = [h for h in kanji.get(idseq, []) if _CJK_IDEOGRAPH.search(h)]
        heads += [h for h in kana.get(idseq, []) if set(h) <= _KATAKANA_NAME]
        for head in heads:
            for typ in typs:
                best = scored.setdefault((head, typ), {})
                if name not in best or rank < best[name]:
                    best[name] = rank
    lex = EntityLexicon(lang="ja")
    for (head, typ) in sorted(scored):
        ranked = sorted(scored[(head, typ)].items(), key=lambda kv: kv[1])[:max_targets]
        top = -ranked[0][1][0]
        for name, rank in ranked:
            f = -rank[0]
            if top > 0 and f < top / 20:
                continue
            lex.add(head, name, typ, "jmnedict", max(f, 1e-9))
    return lex


def cedict_names_to_english() -> EntityLexicon:
    """Typed Chinese name → English name, from CC-CEDICT's proper nouns."""
    lex = EntityLexicon(lang="zh")
    for trad, simp, gloss, typ in cedict_proper_nouns():
        lex.add(simp, gloss, typ, "cedict-names")
        lex.add(trad, gloss, typ, "cedict-names")
    return lex


_TO_ENGLISH = {"jmnedict": jmnedict_to_english, "cedict-names": cedict_names_to_english}


def load_names_to_english(name: str, cache: bool = True) -> EntityLexicon:
    """The named source (`jmnedict`, `cedict-names`) read into English; cached per process and machine."""
    if name not in _TO_ENGLISH:
        raise CslibError(f"unknown entity source {name!r} (known: {', '.join(sorted(_TO_ENGLISH))})")
    return load_built(f"{name}-to-en", _TO_ENGLISH[name], _PACKAGES[name], cache)

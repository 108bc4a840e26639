"""Label-preserving code-switching of one labeled sentence.

The sentence is cut into units: each entity span is one unit, and the non-entity stretches
are cut by longest dictionary match. Each translatable unit is switched with probability
`ratio`. An entity is only ever replaced whole (its first target token gets B-, the rest
I-), so the result is valid IOB2 with exactly the source's entities, in order, by
construction; `validate.row_problem` re-checks every row anyway.

From a source other than English (`cslib build --src ja --tgt en`, `--src de --tgt es`):
- zh and ja tokens may be characters (PAN-X): a unit starts and ends only where the language's
  word tokenizer puts a word edge (or an entity edge), so a switch never cuts a word, and never
  starts on a function word (particles, auxiliaries: `tokenizers.word_units`);
- a person's name is never translated through the word dictionary (only typed names render
  it: "Müller" is not "miller");
- into a Latin-script target, entity translations are title-cased ("United States", the
  source's capitals say nothing in German or Japanese), other words only at the sentence start.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from .iob import span_tags, spans
from .languages import get_language
from .lexicons import Dictionary, Translation, choose, to_traditional
from .tokenizers import segment, word_units

if TYPE_CHECKING:
    from .frames import FramePrefixer

ENTITY_MODES = ("unit", "keep", "replace")
# Separator between the parts of a composed person name: カール・オーヴェ, 卡尔·马克思.
_NAME_DOT = {"ja": "・", "zh": "·"}
# Words left lowercase inside a title-cased name (not first): "University of Tokyo", "Estados de América".
_TITLE_SMALL = frozenset("a an and as at by da de del der des di die do du el en et for from in la las le les "
                         "los of on or the to und van von y zu".split())


def titled(text: str) -> str:
    """Each word's first letter capitalised, but for small words inside ("Bank of Japan"); capitals kept."""
    words = text.split(" ")
    return " ".join(w if (k and w in _TITLE_SMALL) or not w[:1].islower() else w[:1].upper() + w[1:]
                    for k, w in enumerate(words))


def _same(text: str) -> str:
    return text


def switch_method(origins: set[str]) -> str:
    """A row's `method` column: `dict`, `align`, `dict+align` (where its translations came from) or `none`.
    A translation composed through English (`A>B`) counts for both of its legs."""
    kinds = {"align" if o == "align" else "dict" for origin in origins for o in origin.split(">")}
    return "+".join(sorted(kinds)) if kinds else "none"


@dataclass(frozen=True)
class SwitchConfig:
    ratio: float = 0.8  # probability that a translatable unit is switched
    entity_mode: str = "unit"  # "unit": entities switched whole; "keep": never; "replace": by a lexicon entity
    entity_ratio: float | None = None  # switch probability for entities (default: ratio)
    compose_entities: bool = True  # translate a multi-word entity phrase by phrase when no entry covers it whole
    segment: str = "auto"  # how inserted target text is tokenized: auto | chars | words

    def __post_init__(self) -> None:
        if not 0.0 <= self.ratio <= 1.0:
            raise ValueError(f"ratio must be in [0, 1], got {self.ratio}")
        if self.entity_mode not in ENTITY_MODES:
            raise ValueError(f"unknown entity mode {self.entity_mode!r} (expected unit, keep or replace)")


@dataclass
class Switched:
    tokens: list[str]
    tags: list[str]
    langs: list[str]
    src_index: list[int]
    n_switched: int
    origins: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)  # per cs token: the origin of its translation, "" if kept
    n_translatable: int = 0  # units that had a translation (drawn or not): tells "not drawn" from "no entry"


class CodeSwitcher:
    """Switches sentences with one dictionary; reusable across sentences (segmentation is cached).

    `entities` (typed names, `cslib.lexicons.entity_sources`) and `transliterator` (`cslib.lexicons.transliterate`)
    serve entities only, and only under the entity's own type. With typed names present, a
    PER is never translated through the untyped dictionary either ("Rice" is not 米).
    """

    def __init__(self, dictionary: Dictionary, config: SwitchConfig | None = None, entities=None,
                 transliterator=None, zh_script: str = "keep", frames: FramePrefixer | None = None) -> None:
        self.dictionary = dictionary
        self.frames = frames  # the target text's frames, drawn after switching (cslib.frames)
        self.config = config or SwitchConfig()
        self.entities = entities
        self.transliterator = transliterator
        # names kept as written (a Latin-script target) keep their punctuation too: "( Sandusky , Ohio )"
        self._names_kept = getattr(transliterator, "origin", "") == "kept"
        self.tgt = dictionary.tgt_lang
        self.src = dictionary.src_lang
        self._from_en = self.src == "en"  # the rules for other sources: module docstring
        self._joined = dictionary.joined  # zh/ja source: units end on word edges
        self._units = lru_cache(maxsize=4096)(lambda norm: word_units(list(norm), self.src))
        self._latin = get_language(self.tgt).latin
        self._char = get_language(self.tgt).char_tokenized
        self._segment = lru_cache(maxsize=200_000)(lambda text: tuple(segment(text, self.tgt, self.config.segment)))
        # --entity-mode replace: the target entities per type (read only in that mode: 400k names otherwise)
        self._pool = entities.by_type("replace") if entities is not None and self.config.entity_mode == "replace" else {}
        # "both": each row is drawn Traditional (dictionary converted to Simplified) with probability 1/2
        self._both_scripts = self.tgt == "zh" and zh_script == "both"

    def _general_ok(self, typ: str) -> bool:
        """Whether the untyped dictionary may translate (parts of) an entity of type `typ`."""
        if typ == "PER" and not self._from_en:
            return False
        return not (typ == "PER" and (self.entities is not None or self.transliterator is not None))

    def _entity_translation(self, words: list[str], rng: random.Random | None, typ: str = "MISC",
                            edges: set[int] | None = None) -> Translation | None:
        """A translation of the entity, or None; `rng=None` only asks whether one exists (draws nothing)."""
        pick = (lambda opts: opts[0]) if rng is None else (lambda opts: choose(opts, rng))
        if self.config.entity_mode == "replace" and self._pool.get(typ):
            e = pick(self._pool[typ])
            return Translation(e.text, e.origin)
        # A one-character zh/ja entity is an abbreviation or a fragment (克 of 克拉斯诺亚尔斯克):
        # its dictionary sense ("be able to") is not the name's.
        general = self._general_ok(typ) and not (self._joined and len("".join(words)) == 1)
        # Whole-phrase candidates: typed names of this type, and (not for PER) the word dictionary,
        # which knows Kyoto → 京都 and Japan → 日本 where JMnedict lists only ジャパン; weights decide.
        options: list[Translation] = []
        if self.entities is not None:
            options = [Translation(e.text, e.origin, e.weight) for e in self.entities.lookup(words, typ)]
        if general:
            options += self.dictionary.lookup(words)
        if options:
            if len(options) > 1:
                top = max(o.weight for o in options)
                options = [o for o in options if o.weight >= top * 0.05]
            return pick(options)
        if not self.config.compose_entities or (len(words) == 1 and self.transliterator is None):
            return None
        parts: list[tuple[str, str]] = []  # (text, origin); origin "" for digits kept as they are
        for kind, value in self._cover(words, typ, general, edges):
            if kind == "entry":
                t = pick(value)
                parts.append((t.text, t.origin))
            elif kind == "keep":
                parts.append((value, ""))
            else:
                text = self.transliterator.word(value) if self.transliterator is not None else None
                if text is None:
                    return None
                parts.append((text, self.transliterator.origin))
        origins = sorted({o for _, o in parts if o})
        if not origins or origins == ["kept"]:  # names kept as they are switch nothing by themselves
            return None
        dot = _NAME_DOT.get(self.tgt) if typ == "PER" else None
        joiner = dot if dot and len(parts) > 1 else "" if self._char else " "
        return Translation(joiner.join(t for t, _ in parts), "+".join(origins))

    def _cover(self, words: list[str], typ: str, general: bool,
               edges: set[int] | None = None) -> Iterator[tuple[str, object]]:
        """How a composed entity covers its words, left to right: ("entry", translations) for a
        typed name or dictionary phrase (longest first), ("keep", digits), ("word", w) for a word
        only transliteration can render. Punctuation inside a name is dropped, unless names are kept as
        written (Latin-script targets)."""
        if self._joined:
            yield from self._cover_joined(words, typ, general, edges)
            return
        lowered = [w.lower() for w in words]
        i = 0
        while i < len(words):
            n, opts = self.entities.longest_match(words, i, typ) if self.entities is not None else (0, [])
            if not n and general:
                n, opts = self.dictionary.longest_match(lowered, i)
            if n:
                yield "entry", opts
                i += n
                continue
            w = words[i]
            if any(c.isalpha() for c in w):
                yield "word", w
            elif w.isdigit() or self._names_kept:
                yield "keep", w
            i += 1

    def _cover_joined(self, words: list[str], typ: str, general: bool,
                      edges: set[int] | None) -> Iterator[tuple[str, object]]:
        """`_cover` of zh/ja tokens: entries start and end on word `edges` (None: every token edge);
        a word without an entry is kept when it is digits or Latin letters (already legible in
        the target: "Steve Reich" inside a Japanese sentence), and needs transliteration otherwise."""
        if edges is None:
            edges = set(range(len(words) + 1))
        norm = [self.dictionary.token_key(w) for w in words]
        i = 0
        while i < len(words):
            n, opts = self.entities.longest_match(words, i, typ, edges) if self.entities is not None else (0, [])
            if not n and general:
                n, opts = self.dictionary.match_at(norm, i, len(words), edges)
            if n:
                yield "entry", opts
                i += n
                continue
            j = min((e for e in edges if e > i), default=len(words))
            piece = unicodedata.normalize("NFKC", "".join(words[i:j]))
            if piece.isdigit() or (piece.isascii() and any(c.isalpha() for c in piece)):
                yield "keep", piece
            elif any(c.isalnum() for c in piece):
                yield "word", piece
            i = j

    def transliteration_words(self, tokens: list[str], tags: list[str]) -> list[str]:
        """The words of the sentence's entities that switching may hand to the transliterator
        (a superset: drawn or not), so that a build can transliterate them all at once first."""
        if (self.transliterator is None or self.config.entity_mode == "keep" or not self.config.compose_entities
                or self._joined):  # zh/ja words are not what e2k reads
            return []
        out: list[str] = []
        for s in spans(tags):
            words = tokens[s.start:s.end]
            if self.config.entity_mode == "replace" and self._pool.get(s.type):
                continue
            general = self._general_ok(s.type)
            if (self.entities is not None and self.entities.lookup(words, s.type)) or (
                    general and self.dictionary.lookup(words)):
                continue
            out += [w for kind, w in self._cover(words, s.type, general) if kind == "word"]
        return out

    def _cased(self, text: str, first_src: str) -> str:
        if self._latin and first_src[:1].isupper() and text[:1].islower():
            return text[:1].upper() + text[1:]
        return text

    def _entity_text(self, tr: Translation, first_src: str) -> str:
        if tr.origin == "replace":  # a mined entity is used as written
            return tr.text
        if self._from_en:
            return self._cased(tr.text, first_src)
        return titled(tr.text) if self._latin else tr.text

    def _word_text(self, text: str, first_src: str, at_start: bool) -> str:
        return self._cased(text, first_src) if self._from_en or at_start else text

    def switch(self, tokens: list[str], tags: list[str], rng: random.Random) -> Switched:
        cfg = self.config
        ent_ratio = cfg.ratio if cfg.entity_ratio is None else cfg.entity_ratio
        out = Switched([], [], [], [], 0)
        lowered = [self.dictionary.token_key(t) for t in tokens] if self._joined else [t.lower() for t in tokens]
        ent_at = {s.start: s for s in spans(tags)}
        edges: set[int] | None = None
        function: set[int] = set()
        if self._joined:  # word edges, and entity edges (an entity is a unit of its own)
            edges, function = self._units(tuple(lowered))
            edges = edges | {e for s in ent_at.values() for e in (s.start, s.end)}

        def inside(s) -> set[int] | None:
            return None if edges is None else {e - s.start for e in edges if s.start <= e <= s.end}

        def emit(seg: tuple[str, ...], start: int, end: int, typ: str | None, origin: str) -> None:
            n, m = end - start, len(seg)
            out.tokens.extend(seg)
            out.tags.extend(span_tags(typ, m))
            out.langs.extend([self.tgt] * m)
            out.src_index.extend(start + (k * n) // m for k in range(m))
            out.sources.extend([origin] * m)
            out.n_switched += n
            out.origins.add(origin)

        def keep(start: int, end: int) -> None:
            out.tokens.extend(tokens[start:end])
            out.tags.extend(tags[start:end])
            out.langs.extend([self.src] * (end - start))
            out.src_index.extend(range(start, end))
            out.sources.extend([""] * (end - start))

        convert = to_traditional if self._both_scripts and rng.random() < 0.5 else _same
        undrawn: list = []  # entities not drawn: checked for a translation only if the row stays unswitched

        i, n_tok = 0, len(tokens)
        while i < n_tok:
            span = ent_at.get(i)
            if span is not None:
                tr = None
                if cfg.entity_mode != "keep":
                    if rng.random() < ent_ratio:
                        tr = self._entity_translation(tokens[span.start:span.end], rng, span.type, inside(span))
                        out.n_translatable += tr is not None
                    else:
                        undrawn.append(span)
                seg = self._segment(convert(self._entity_text(tr, tokens[i]))) if tr else ()
                if seg:
                    emit(seg, span.start, span.end, span.type, tr.origin)
                else:
                    keep(span.start, span.end)
                i = span.end
                continue
            o_end = i
            while o_end < n_tok and o_end not in ent_at:
                o_end += 1
            while i < o_end:
                if edges is None:
                    n, options = self.dictionary.longest_match(lowered[:o_end], i)
                elif i in function:  # a particle, an auxiliary: kept
                    n, options = 0, []
                else:
                    n, options = self.dictionary.match_at(lowered, i, o_end, edges)
                out.n_translatable += n > 0
                if n and rng.random() < cfg.ratio:
                    tr = choose(options, rng)
                    seg = self._segment(convert(self._word_text(tr.text, tokens[i], i == 0)))
                    if seg:
                        emit(seg, i, i + n, None, tr.origin)
                    else:
                        keep(i, i + n)
                    i += n
                else:
                    keep(i, i + max(n, 1))
                    i += max(n, 1)
        if not out.n_switched:
            out.n_translatable += sum(self._entity_translation(tokens[s.start:s.end], None, s.type, inside(s))
                                      is not None for s in undrawn)
        return out if self.frames is None else self.frames.apply(out, rng)

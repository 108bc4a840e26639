"""Label-preserving code-switching of one labeled sentence.

The sentence is cut into units: each entity span is one unit, and the non-entity stretches
are cut by longest dictionary match. Each translatable unit is switched with probability
`ratio`. An entity is only ever replaced whole (its first target token gets B-, the rest
I-), so the result is valid IOB2 with exactly the source's entities, in order, by
construction; `validate.row_problem` re-checks every row anyway.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache

from .dictionary import Dictionary, Translation
from .iob import span_tags, spans
from .languages import get_language
from .tokenizers import segment

ENTITY_MODES = ("unit", "keep")


@dataclass(frozen=True)
class SwitchConfig:
    ratio: float = 0.8  # probability that a translatable unit is switched
    entity_mode: str = "unit"  # "unit": entities switched whole; "keep": entities never switched
    entity_ratio: float | None = None  # switch probability for entities (default: ratio)
    compose_entities: bool = True  # translate a multi-word entity phrase by phrase when no entry covers it whole
    segment: str = "auto"  # how inserted target text is tokenized: auto | chars | words

    def __post_init__(self) -> None:
        if not 0.0 <= self.ratio <= 1.0:
            raise ValueError(f"ratio must be in [0, 1], got {self.ratio}")
        if self.entity_mode not in ENTITY_MODES:
            raise ValueError(f"unknown entity mode {self.entity_mode!r} (expected unit or keep)")


@dataclass
class Switched:
    tokens: list[str]
    tags: list[str]
    langs: list[str]
    src_index: list[int]
    n_switched: int
    origins: set[str] = field(default_factory=set)


class CodeSwitcher:
    """Switches sentences with one dictionary; reusable across sentences (segmentation is cached)."""

    def __init__(self, dictionary: Dictionary, config: SwitchConfig | None = None) -> None:
        self.dictionary = dictionary
        self.config = config or SwitchConfig()
        self.tgt = dictionary.tgt_lang
        self.src = dictionary.src_lang
        self._latin = get_language(self.tgt).latin
        self._char = get_language(self.tgt).char_tokenized
        self._segment = lru_cache(maxsize=200_000)(lambda text: tuple(segment(text, self.tgt, self.config.segment)))

    def _entity_translation(self, words: list[str], rng: random.Random) -> Translation | None:
        whole = self.dictionary.lookup(words)
        if whole:
            return rng.choice(whole)
        if not self.config.compose_entities or len(words) == 1:
            return None
        parts = []
        lowered = [w.lower() for w in words]
        i = 0
        while i < len(words):  # cover the entity with the longest dictionary phrases, or give up
            n, options = self.dictionary.longest_match(lowered, i)
            if not n:
                return None
            parts.append(rng.choice(options))
            i += n
        joiner = "" if self._char else " "
        origin = "+".join(sorted({p.origin for p in parts}))
        return Translation(joiner.join(p.text for p in parts), origin)

    def _cased(self, text: str, first_src: str) -> str:
        if self._latin and first_src[:1].isupper() and text[:1].islower():
            return text[:1].upper() + text[1:]
        return text

    def switch(self, tokens: list[str], tags: list[str], rng: random.Random) -> Switched:
        cfg = self.config
        ent_ratio = cfg.ratio if cfg.entity_ratio is None else cfg.entity_ratio
        out = Switched([], [], [], [], 0)
        lowered = [t.lower() for t in tokens]
        ent_at = {s.start: s for s in spans(tags)}

        def emit(seg: tuple[str, ...], start: int, end: int, typ: str | None, origin: str) -> None:
            n, m = end - start, len(seg)
            out.tokens.extend(seg)
            out.tags.extend(span_tags(typ, m))
            out.langs.extend([self.tgt] * m)
            out.src_index.extend(start + (k * n) // m for k in range(m))
            out.n_switched += n
            out.origins.add(origin)

        def keep(start: int, end: int) -> None:
            out.tokens.extend(tokens[start:end])
            out.tags.extend(tags[start:end])
            out.langs.extend([self.src] * (end - start))
            out.src_index.extend(range(start, end))

        i, n_tok = 0, len(tokens)
        while i < n_tok:
            span = ent_at.get(i)
            if span is not None:
                tr = None
                if cfg.entity_mode == "unit" and rng.random() < ent_ratio:
                    tr = self._entity_translation(tokens[span.start:span.end], rng)
                seg = self._segment(self._cased(tr.text, tokens[i])) if tr else ()
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
                n, options = self.dictionary.longest_match(lowered[:o_end], i)
                if n and rng.random() < cfg.ratio:
                    tr = rng.choice(options)
                    seg = self._segment(self._cased(tr.text, tokens[i]))
                    if seg:
                        emit(seg, i, i + n, None, tr.origin)
                    else:
                        keep(i, i + n)
                    i += n
                else:
                    keep(i, i + max(n, 1))
                    i += max(n, 1)
        return out

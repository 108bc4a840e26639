"""Bilingual dictionaries with multi-word entries and longest-match lookup.

Sources add (English phrase, target text) pairs; the dictionary keeps each target once per
phrase, in the order first seen, with the name of the source it came from (so a shard row
can say whether its words came from MUSE, JMdict, CC-CEDICT or alignment).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import at
from ..languages import get_language
from ..textio import iter_lines


def _has_letter(text: str) -> bool:
    return any(unicodedata.category(c).startswith("L") for c in text)


def _non_ascii_letter(text: str) -> bool:
    return any(not c.isascii() and unicodedata.category(c).startswith("L") for c in text)


@dataclass
class Translation:
    text: str
    origin: str  # e.g. "muse", "jmdict", "cedict", "align"
    weight: float = 1.0  # relative chance among the phrase's translations (cslib.lexicons.senses)


@dataclass
class Dictionary:
    src_lang: str
    tgt_lang: str
    entries: dict[tuple[str, ...], list[Translation]] = field(default_factory=dict)
    max_len: int = 0

    def __post_init__(self) -> None:
        self._latin_target = get_language(self.tgt_lang).latin
        self._seen: set[tuple[tuple[str, ...], str]] = set()

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, src: str | Iterable[str], tgt: str, origin: str) -> bool:
        """Add one pair; returns False when it is filtered out.

        Filtered: identity pairs (MUSE lists 'was→was' for ja), phrases without a letter, and,
        for targets not written in Latin script, targets with no non-ASCII letter (untranslated
        English left in the dictionary would switch nothing). Acronym sources ("IT", "WHO", "US")
        too: lookup is case-blind, so they would turn "it", "who", "us" into 信息技术, 世卫, 美国.
        """
        raw = src.split() if isinstance(src, str) else list(src)
        if any(len(w) > 1 and w.isupper() for w in raw):
            return False
        words = tuple(w.lower() for w in raw)
        tgt = tgt.strip()
        if not words or not tgt or not any(_has_letter(w) for w in words):
            return False
        if tgt.lower() == " ".join(words) or not _has_letter(tgt):
            return False
        if not self._latin_target and not _non_ascii_letter(tgt):
            return False
        key = (words, tgt)
        if key in self._seen:
            return False
        self._seen.add(key)
        self.entries.setdefault(words, []).append(Translation(tgt, origin))
        self.max_len = max(self.max_len, len(words))
        return True

    def add_pairs(self, pairs: Iterable[tuple[str, str]], origin: str) -> int:
        return sum(self.add(s, t, origin) for s, t in pairs)

    def longest_match(self, lowered: list[str], i: int) -> tuple[int, list[Translation]]:
        """Longest phrase starting at token i: (length, translations), or (0, [])."""
        for n in range(min(self.max_len, len(lowered) - i), 0, -1):
            hit = self.entries.get(tuple(lowered[i:i + n]))
            if hit:
                return n, hit
        return 0, []

    def lookup(self, phrase: list[str] | tuple[str, ...]) -> list[Translation]:
        return self.entries.get(tuple(w.lower() for w in phrase), [])


def read_muse(path: str | Path, encoding: str | None = None) -> list[tuple[str, str]]:
    """MUSE `src<TAB>tgt` lines (several lines per source word allowed; space also accepted)."""
    path = Path(path)
    pairs: list[tuple[str, str]] = []
    for lineno, line in iter_lines(path, encoding):
        if not line.strip():
            continue
        cols = [c.strip() for c in (line.split("\t") if "\t" in line else line.split())]
        if len(cols) != 2 or not all(cols):
            raise at(path, lineno, f"expected 'source<TAB>target', got {len(cols)} columns: {line[:60]!r}")
        pairs.append((cols[0], cols[1]))
    if not pairs:
        raise at(path, None, "empty dictionary")
    return pairs

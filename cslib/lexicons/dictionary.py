"""Bilingual dictionaries with multi-word entries and longest-match lookup.

Sources add (source phrase, target text) pairs; the dictionary keeps each target once per
phrase, in the order first seen, with the name of the source it came from (so a shard row
can say whether its words came from MUSE, JMdict, CC-CEDICT or alignment).

Phrases of a language written with spaces are keyed by their lowercased words. Phrases of zh
and ja are keyed by their text (`keys.joined_key`), so that an entry matches a run of tokens,
characters (PAN-X) or words (raw text), whose concatenation it is; the switcher says where
words start (`tokenizers.word_edges`), and a match never starts or ends inside a word.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import at
from ..languages import get_language
from ..textio import iter_lines
from .keys import joined_key

_KANA = re.compile(r"[\u3040-\u30ff]")


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
    max_len: int = 0  # of a phrase, in words; in characters for `joined` dictionaries
    info: dict = field(default_factory=dict)  # how it was made (direction, legs of a pivot): for the manifest

    def __post_init__(self) -> None:
        self._latin_target = get_language(self.tgt_lang).latin
        self._latin_source = get_language(self.src_lang).latin
        self.joined = get_language(self.src_lang).char_tokenized  # keys: (text without spaces,)
        self._seen: set[tuple[tuple[str, ...], str]] = set()
        self._prefixes: set[str] | None = None  # of joined keys, for `match_at`
        self.identical: set[tuple[str, ...]] = set()  # phrases a source translated by themselves

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
        if self.joined:
            text = joined_key("".join(raw), self.src_lang)
            words, plain = ((text,) if text else ()), text
        else:
            words = tuple(w.lower() for w in raw)
            plain = " ".join(words)
        tgt = tgt.strip()
        if not words or not tgt or not any(_has_letter(w) for w in words):
            return False
        if tgt.lower() == plain:
            self.identical.add(words)
            return False
        if not _has_letter(tgt):
            return False
        if not self._latin_target and not _non_ascii_letter(tgt):
            return False
        if not self._latin_source and not _non_ascii_letter(plain):
            return False  # a Latin "word" of a ja or ru dictionary is English left in it
        if self.src_lang == "ja" and len(plain) == 1 and _KANA.match(plain):
            return False  # a lone kana is a particle or a piece of a word (い → be, ア → America)
        key = (words, tgt)
        if key in self._seen:
            return False
        self._seen.add(key)
        self.entries.setdefault(words, []).append(Translation(tgt, origin))
        self.max_len = max(self.max_len, len(plain) if self.joined else len(words))
        self._prefixes = None
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

    def match_at(self, norm: list[str], i: int, end: int, edges: set[int]) -> tuple[int, list[Translation]]:
        """`longest_match` of a joined dictionary over normalised tokens (`token_key`): the longest
        entry spelled by norm[i:j], j <= end, that starts and ends on word edges."""
        if i not in edges:
            return 0, []
        if self._prefixes is None:
            self._prefixes = {k[0][:n] for k in self.entries for n in range(1, len(k[0]) + 1)}
        best: tuple[int, list[Translation]] = (0, [])
        text = ""
        for j in range(i + 1, end + 1):
            text += norm[j - 1]
            if text not in self._prefixes:
                break
            if j in edges:
                hit = self.entries.get((text,))
                if hit:
                    best = (j - i, hit)
        return best

    def token_key(self, token: str) -> str:
        """A token as `match_at` and `longest_match` compare it: lowercased (and for zh, Simplified)."""
        return joined_key(token, self.src_lang) if self.joined else token.lower()

    def lookup(self, phrase: list[str] | tuple[str, ...]) -> list[Translation]:
        if self.joined:
            return self.entries.get((joined_key("".join(phrase), self.src_lang),), [])
        return self.entries.get(tuple(w.lower() for w in phrase), [])

    def set_translations(self, words: tuple[str, ...], options: list[Translation]) -> None:
        """Replace a phrase's translations (an empty list removes the phrase)."""
        if options:
            self.entries[words] = options
            self.max_len = max(self.max_len, len(words[0]) if self.joined else len(words))
        else:
            self.entries.pop(words, None)
        self._prefixes = None


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

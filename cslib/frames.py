"""Sentence frames of the target's text, and code-switched rows that open with them.

A frame is a word that opens many of a text's sentences, occurs nowhere else in it, opens sentences
shorter than the text's typical one, and is followed by varied words: a label in front of a title,
not prose ("He ..."), and not the head of a fixed phrase that the title is made of ("Komun di jabatan X",
ms: "commune in the department X", which PAN-X labels whole as a place). In scripts that PAN-X writes
one character a token, the word is the run of characters that opens those sentences ("重 定 向 #"). PAN-X
sentences come from Wikipedia, and in most languages a large share are redirect titles
("تحويل X", "REDIRECCIÓN X", "АЙДАУ X"); English PAN-X has none. A model trained on English rows,
where every title fragment opens with its entity, learns that the first word of a fragment starts
the entity, and code-switched fragments in the target's script teach it more firmly: the frame
word is then tagged as part of the name (docs/results.md, "Redirect titles"). Prepending the
target's own frames, tagged O, to code-switched rows that open with an entity shows the model
the target text's shape; the frames are mined from unlabeled target text, never from its tags.

Text without such sequences (news, user text) yields no frame and leaves a build unchanged.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from .corpora import load_split
from .languages import get_language

Row = TypeVar("Row")  # cslib.substitute.Switched (not imported: substitute holds a prefixer)

FRAME_SOURCE = "frame"  # the cs_sources value of a frame's tokens
FRAME_TEXT = 20_000  # frames are mined from the first sentences of the language's PAN-X train text


@dataclass(frozen=True)
class FrameConfig:
    """What counts as a frame, and how often one is prepended."""

    min_share: float = 0.05  # of the text's sentences that open with it
    min_initial: float = 0.99  # of its occurrences that open a sentence
    min_sentences: int = 1000  # texts smaller than this are too small to tell a frame from chance
    max_tokens: int = 1  # longest frame, in tokens: one word (`for_language`: 8 characters where PAN-X splits them)
    max_next_share: float = 0.5  # the word after a frame is this one word in fewer of its sentences
    max_rate: float = 0.5  # at most this share of entity-initial rows get a frame

    @classmethod
    def for_language(cls, lang: str) -> FrameConfig:
        """The defaults, with frames of up to 8 tokens in a character-tokenized language."""
        return cls(max_tokens=8) if get_language(lang).char_tokenized else cls()


@dataclass(frozen=True)
class Frame:
    tokens: tuple[str, ...]
    share: float  # of the text's sentences that open with it

    def to_dict(self) -> dict:
        return {"tokens": list(self.tokens), "share": round(self.share, 4)}

    def opens(self, tokens: Sequence[str]) -> bool:
        """Whether a sentence opens with this frame (and goes on after it)."""
        return len(tokens) > len(self.tokens) and tuple(tokens[:len(self.tokens)]) == self.tokens


def _occurrences(sentences: Sequence[Sequence[str]], grams: set[tuple[str, ...]]) -> Counter:
    """How often each gram occurs anywhere in the sentences."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for g in grams:
        by_first.setdefault(g[0], []).append(g)
    found: Counter = Counter()
    for s in sentences:
        for i, tok in enumerate(s):
            for g in by_first.get(tok, ()):
                if tuple(s[i:i + len(g)]) == g:
                    found[g] += 1
    return found


def mine_frames(sentences: Sequence[Sequence[str]], cfg: FrameConfig | None = None) -> list[Frame]:
    """The frames of a tokenized text (see the module docstring), most frequent first."""
    cfg = cfg or FrameConfig()
    n = len(sentences)
    if n < cfg.min_sentences:
        return []
    typical = statistics.median(len(s) for s in sentences)
    opening: Counter = Counter()
    lengths: dict[tuple[str, ...], list[int]] = {}
    after: dict[tuple[str, ...], Counter] = {}
    for s in sentences:
        for k in range(1, min(cfg.max_tokens, len(s) - 1) + 1):  # a frame is followed by something
            g = tuple(s[:k])
            opening[g] += 1
            lengths.setdefault(g, []).append(len(s))
            after.setdefault(g, Counter())[s[k]] += 1
    frequent = {g for g, c in opening.items() if c >= cfg.min_share * n}
    anywhere = _occurrences(sentences, frequent)
    cands = {g for g in frequent
             if opening[g] >= cfg.min_initial * anywhere[g] and statistics.median(lengths[g]) <= typical}
    kept: list[tuple[str, ...]] = []
    for g in sorted(cands, key=len):  # the shortest first, extended while one continuation carries it
        if any(g[:len(k)] == k or k[:len(g)] == g for k in kept):
            continue
        while True:
            ext = [e for e in cands if len(e) == len(g) + 1 and e[:len(g)] == g and opening[e] >= 0.9 * opening[g]]
            if not ext:
                break
            g = ext[0]
        if after[g].most_common(1)[0][1] < cfg.max_next_share * opening[g]:  # varied words follow it
            kept.append(g)
    return sorted((Frame(g, opening[g] / n) for g in kept), key=lambda f: (-f.share, f.tokens))


def text_frames(lang: str, data_root: str | None = None) -> list[Frame]:
    """The frames of `lang`'s unlabeled PAN-X train text (its first `FRAME_TEXT` sentences): the ones a
    default NER build into `lang` prepends. Raises CslibError when the text cannot be read."""
    text = [s.tokens for s in load_split("panx", lang, "train", data_root, limit=FRAME_TEXT)]
    return mine_frames(text, FrameConfig.for_language(lang))


class FramePrefixer:
    """Prepends a frame (tagged O) to a code-switched row that opens with an entity, with
    probability min(total frame share, `max_rate`); the frame is drawn by its share."""

    def __init__(self, frames: Sequence[Frame], tgt: str, max_rate: float = FrameConfig.max_rate) -> None:
        self.frames = list(frames)
        self.tgt = tgt
        self.rate = min(sum(f.share for f in self.frames), max_rate)
        self._weights = [f.share for f in self.frames]

    def apply(self, row: Row, rng: random.Random) -> Row:
        """A switched row (`cslib.substitute.Switched`) with a frame in front, or the row itself
        (same object) when none is drawn. The frame's words map to source word 0 and switch nothing."""
        tags = row.tags  # type: ignore[attr-defined]
        if not self.frames or not tags or not tags[0].startswith("B-") or rng.random() >= self.rate:
            return row
        frame = rng.choices(self.frames, self._weights)[0].tokens
        m = len(frame)
        return replace(row, tokens=list(frame) + row.tokens, tags=["O"] * m + tags,  # type: ignore[type-var]
                       langs=[self.tgt] * m + row.langs, src_index=[0] * m + row.src_index,  # type: ignore[attr-defined]
                       sources=[FRAME_SOURCE] * m + row.sources, origins=set(row.origins))  # type: ignore[attr-defined]

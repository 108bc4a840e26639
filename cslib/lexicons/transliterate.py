"""Transliteration fallback for names with no dictionary entry: English → katakana (ja), and by
rule into the other scripts (`by_sound`); `shared` gives each target its transliterator.

Japanese writes foreign names in katakana by sound (Knausgård → クナウスゴール), so an
entity that no dictionary knows can still be switched. `e2k` (PyPI) ships its small
numpy seq2seq models inside the wheel and runs offline; its "turbo" model is 7× faster than
"base" (3.6 ms vs 27 ms a word on one core) and as good on names. Only the letter runs of a
token are transliterated (digits are kept: "Apollo 11" → アポロ11). The model's output for a
letter run is computed once per machine (`c2k_cache`: a memo, a file in the cache folder, batched
calls for the names a build announces with `prefetch`); words are memoised on top.
No package does this for Chinese, whose name transliteration picks characters by
convention; for zh the katakana reading is mapped onto those characters (`kana_hanzi`).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Union

from ..languages import LANGUAGES
from . import by_sound, c2k_cache
from .entity_sources import fold
from .kana_hanzi import kana_to_hanzi

_LETTERS = re.compile(r"[a-z]+")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_KATAKANA = re.compile(r"^[\u30a0-\u30ff]+$")
E2K_LANGS = ("ja", "zh")
TRANSLITERATION_LANGS = E2K_LANGS + by_sound.SOUND_LANGS
# Small words inside names that a letter-by-letter model reads wrongly ("of" → オフ, "St" → スト).
_FIXED = {"of": "オブ", "the": "ザ", "and": "アンド", "st": "セント", "mt": "マウント", "dr": "ドクター",
          "jr": "ジュニア", "sr": "シニア", "mr": "ミスター", "de": "ド", "von": "フォン", "van": "ヴァン",
          "la": "ラ", "le": "ル", "du": "デュ", "ii": "2世", "iii": "3世"}


NameWriter = Union["Transliterator", by_sound.SoundTransliterator, by_sound.LatinNames]


def supports(tgt_lang: str) -> bool:
    """Whether names can be written for `tgt_lang`: e2k (ja, zh), by sound, or kept (Latin script)."""
    return tgt_lang in TRANSLITERATION_LANGS or (tgt_lang in LANGUAGES and LANGUAGES[tgt_lang].latin)


def available(tgt_lang: str) -> bool:
    """Whether names can be transliterated into `tgt_lang` here (its package is installed)."""
    if tgt_lang not in E2K_LANGS:
        return by_sound.available(tgt_lang) or supports(tgt_lang)
    return importlib.util.find_spec("e2k") is not None


def package(tgt_lang: str) -> str:
    """The PyPI package that transliterates into `tgt_lang` ("" when rules alone do)."""
    if tgt_lang in E2K_LANGS:
        return "e2k"
    return "indic-transliteration" if tgt_lang in by_sound.NEEDS_PACKAGE else ""


@lru_cache(maxsize=4)
def shared(tgt_lang: str) -> NameWriter:
    """One transliterator per language and process, so its word cache serves every build."""
    if tgt_lang in by_sound.WRITERS:
        return by_sound.SoundTransliterator(tgt_lang)
    if tgt_lang not in E2K_LANGS:
        return by_sound.LatinNames(tgt_lang)
    return Transliterator(tgt_lang)


class Transliterator:
    """English word → target-script text, or None when the word has nothing to transliterate.

    `memo=False` calls the model for every word, as the first version did (tests compare the
    two); the default shares the model's outputs through `c2k_cache`.
    """

    origin = "translit"

    def __init__(self, tgt_lang: str = "ja", model: str = "turbo", memo: bool = True) -> None:
        if tgt_lang not in E2K_LANGS:
            raise ValueError(f"no e2k transliterator for {tgt_lang!r} (have: {', '.join(E2K_LANGS)})")
        self.tgt = tgt_lang
        c2k_cache.require_e2k()  # a missing e2k is reported now, not mid-build
        self._pieces = c2k_cache.shared(model) if memo else None
        # with the memo, the model loads on the first letter run that is not in the cache
        self._c2k = self._pieces if self._pieces is not None else c2k_cache.load_c2k(model)
        self.word = lru_cache(maxsize=300_000)(self._word) if memo else self._word

    def _word(self, word: str) -> str | None:
        kana = self._kana(word)
        if kana is None or self.tgt == "ja":
            return kana
        return kana_to_hanzi(kana) if not kana.isdigit() else kana

    def _kana(self, word: str) -> str | None:
        text = fold(word)
        fixed = _fixed(text)
        if fixed is not _MODEL:
            return fixed
        out: list[str] = []
        for piece in _runs(text):
            if piece.isdigit():
                out.append(piece)
                continue
            kata = self._c2k(piece)
            if not kata or not _KATAKANA.match(kata):
                return None
            out.append(kata)
        return "".join(out) or None

    def prefetch(self, words: Iterable[str], workers: int = 1) -> int:
        """Run the model once, in batches (over `workers` processes), over the letter runs of
        `words` it has not seen; returns how many it computed. Later `word` calls only read the memo."""
        if self._pieces is None:
            return 0
        return self._pieces.fill(_model_runs(words), workers)

    def all_cached(self, words: Iterable[str]) -> bool:
        """Whether the model has nothing to compute for `words` (always False without the memo)."""
        return self._pieces is not None and all(p in self._pieces.memo for p in _model_runs(words))

    def flush(self) -> None:
        """Save the letter runs computed one by one since the last save (see `prefetch`)."""
        if self._pieces is not None:
            self._pieces.flush()


_MODEL = object()  # `_fixed`: the word goes through the model


def _fixed(text: str) -> str | None | object:
    """The transliteration of a folded word that needs no model (None: nothing to transliterate), else _MODEL."""
    if not _LETTERS.search(text):
        return None
    if _ORDINAL.fullmatch(text):  # 19th -> 19
        return text.rstrip("stndrh")
    if text.rstrip(".") in _FIXED:
        return _FIXED[text.rstrip(".")]
    return _MODEL


def _model_runs(words: Iterable[str]) -> Iterator[str]:
    """The letter runs of distinct `words` that only the model can transliterate."""
    return (p for w in set(words) if _fixed(t := fold(w)) is _MODEL for p in _runs(t) if not p.isdigit())


def _runs(text: str) -> list[str]:
    """The letter runs (for the model) and digit runs (kept) of a folded word, in order; the rest is dropped."""
    return [p for p in re.split(r"([a-z]+)", text) if p and (_LETTERS.fullmatch(p) or p.isdigit())]

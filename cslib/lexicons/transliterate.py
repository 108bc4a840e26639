"""Transliteration fallback for names with no dictionary entry: English → katakana (ja).

Japanese writes foreign names in katakana by sound (Knausgård → クナウスゴール), so an
entity that no dictionary knows can still be switched. `e2k` (PyPI) ships its small
numpy seq2seq models inside the wheel and runs offline; its "turbo" model is 7× faster than
"base" (3.6 ms vs 27 ms a word on one core) and as good on names. Only the letter runs of a
token are transliterated (digits are kept: "Apollo 11" → アポロ11); results are cached.
No package does this for Chinese, whose name transliteration picks characters by
convention; for zh the katakana reading is mapped onto those characters (`kana_hanzi`).
"""

from __future__ import annotations

import importlib.util
import re
from functools import lru_cache

from .dictionary_sources import MissingPackageError
from .entity_sources import fold
from .kana_hanzi import kana_to_hanzi

_LETTERS = re.compile(r"[a-z]+")
_ORDINAL = re.compile(r"\d+(?:st|nd|rd|th)")
_KATAKANA = re.compile(r"^[\u30a0-\u30ff]+$")
TRANSLITERATION_LANGS = ("ja", "zh")
# Small words inside names that a letter-by-letter model reads wrongly ("of" → オフ, "St" → スト).
_FIXED = {"of": "オブ", "the": "ザ", "and": "アンド", "st": "セント", "mt": "マウント", "dr": "ドクター",
          "jr": "ジュニア", "sr": "シニア", "mr": "ミスター", "de": "ド", "von": "フォン", "van": "ヴァン",
          "la": "ラ", "le": "ル", "du": "デュ", "ii": "2世", "iii": "3世"}


def available(tgt_lang: str) -> bool:
    if tgt_lang not in TRANSLITERATION_LANGS:
        return False
    return importlib.util.find_spec("e2k") is not None


@lru_cache(maxsize=4)
def shared(tgt_lang: str) -> Transliterator:
    """One transliterator per language and process, so its word cache serves every build."""
    return Transliterator(tgt_lang)


class Transliterator:
    """English word → target-script text, or None when the word has nothing to transliterate."""

    origin = "translit"

    def __init__(self, tgt_lang: str = "ja", model: str = "turbo") -> None:
        if tgt_lang not in TRANSLITERATION_LANGS:
            raise ValueError(f"no transliterator for {tgt_lang!r} (have: {', '.join(TRANSLITERATION_LANGS)})")
        try:
            from e2k import C2K
        except ImportError:
            raise MissingPackageError("transliteration needs the Python package 'e2k', which is not installed: "
                                      "pip install e2k") from None
        self._c2k = C2K(model=model)
        self.tgt = tgt_lang
        self.word = lru_cache(maxsize=300_000)(self._word)

    def _word(self, word: str) -> str | None:
        kana = self._kana(word)
        if kana is None or self.tgt == "ja":
            return kana
        return kana_to_hanzi(kana) if not kana.isdigit() else kana

    def _kana(self, word: str) -> str | None:
        text = fold(word)
        if not _LETTERS.search(text):
            return None
        if _ORDINAL.fullmatch(text):  # 19th -> 19
            return text.rstrip("stndrh")
        if text.rstrip(".") in _FIXED:
            return _FIXED[text.rstrip(".")]
        out: list[str] = []
        for piece in re.split(r"([a-z]+)", text):
            if not piece:
                continue
            if _LETTERS.fullmatch(piece):
                kata = self._c2k(piece)
                if not kata or not _KATAKANA.match(kata):
                    return None
                out.append(kata)
            elif piece.isdigit():
                out.append(piece)
        return "".join(out) or None

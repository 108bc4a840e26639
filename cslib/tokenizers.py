"""Language-specific tokenizers: jieba (zh), fugashi + unidic-lite (ja), sacremoses (others).

PAN-X splits zh and ja into characters, so text headed for a model trained on PAN-X is
tokenized the same way (`tokenize`); `segment` keeps word segmentation when asked.
"""

from __future__ import annotations

import logging
from functools import cache, lru_cache

import fugashi
import jieba

from .languages import get_language

SEGMENT_MODES = ("auto", "chars", "words")


@cache
def _moses(lang: str):
    from sacremoses import MosesTokenizer  # 0.5 s to import: only when a Moses language is tokenized

    return MosesTokenizer(lang=lang)


@lru_cache(maxsize=1)
def _fugashi():
    return fugashi.Tagger()


@lru_cache(maxsize=1)
def _jieba():
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def word_tokenize(text: str, lang: str) -> list[str]:
    """Words in the language's own segmentation (jieba / MeCab-unidic / Moses)."""
    kind = get_language(lang).tokenizer
    if kind == "jieba":
        return [w for w in _jieba().lcut(text) if w.strip()]
    if kind == "fugashi":
        return [w.surface for w in _fugashi()(text) if w.surface.strip()]
    return _moses(lang).tokenize(text, escape=False)


def char_tokenize(text: str) -> list[str]:
    return [c for c in text if not c.isspace()]


def segment(text: str, lang: str, mode: str = "auto") -> list[str]:
    """Tokens for `text`: 'chars' splits into characters, 'words' uses the word tokenizer,
    'auto' picks chars for languages PAN-X tokenizes by character (zh, ja) and words otherwise."""
    if mode not in SEGMENT_MODES:
        raise ValueError(f"unknown segment mode {mode!r} (expected one of {', '.join(SEGMENT_MODES)})")
    if mode == "auto":
        mode = "chars" if get_language(lang).char_tokenized else "words"
    if mode == "chars":
        return char_tokenize(text)
    return word_tokenize(text, lang)


def tokenize(text: str, lang: str) -> list[str]:
    """Tokenize raw text the way PAN-X does for `lang` (characters for zh/ja)."""
    return segment(text, lang, "auto")

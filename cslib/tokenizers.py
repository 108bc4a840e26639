"""Language-specific tokenizers: jieba (zh), fugashi + unidic-lite (ja), sacremoses (others).

PAN-X splits zh and ja into characters, so text headed for a model trained on PAN-X is
tokenized the same way (`tokenize`); `segment` keeps word segmentation when asked.
"""

from __future__ import annotations

import logging
import unicodedata
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
    return moses_tokenize(text, lang)


def moses_tokenize(text: str, lang: str) -> list[str]:
    """Moses' tokens of `text` (no escaping), with its cuts next to combining marks undone (`_rejoin`)."""
    return _rejoin(text, _moses(lang).tokenize(text, escape=False))


def _joins(ch: str) -> bool:
    """Combining marks and zero-width (non-)joiners: parts of the letter before them, never a cut."""
    return unicodedata.category(ch).startswith("M") or ch in "\u200c\u200d"


def _rejoin(text: str, tokens: list[str]) -> list[str]:
    """Moses' tokens with the cuts it makes next to a combining mark or a zero-width joiner undone
    (where the two pieces touch in `text`): Moses reads Burmese's asat, Yoruba's tone marks and
    ZWNJ (fa, bn, ml) as punctuation and would cut ဝသိန်ဂ် into ဝသိန ် ဂ ်."""
    out: list[str] = []
    pos = end = 0
    for t in tokens:
        start = text.find(t, pos)
        if start < 0:  # Moses changed the token's characters: no offsets to go by from here
            return tokens
        if out and start == end and (_joins(t[0]) or _joins(out[-1][-1])):
            out[-1] += t
        else:
            out.append(t)
        pos = end = start + len(t)
    return out


# Words a switch never starts on: ja by part of speech (particles, auxiliaries, suffixes, symbols,
# verbs used as auxiliaries: に, た, 生 of 奨学生, さ of 許可され), zh by jieba's particle classes
# (u*, y: a closed list; jieba's own POS tagger is 9x slower than its segmenter).
_JA_FUNCTION_POS = frozenset({"助詞", "助動詞", "接尾辞", "補助記号", "記号", "空白"})
_ZH_FUNCTION_WORDS = frozenset("的 了 着 过 地 得 之 所 等 吗 呢 吧 啊 呀 嘛 啦 哦 么 呗 哇 嗯 罢了 而已 似的 般".split())


def _ja_words(text: str) -> list[tuple[str, bool]]:
    out = []
    for w in _fugashi()(text):
        if w.surface.strip():
            f = w.feature
            out.append((w.surface, f.pos1 in _JA_FUNCTION_POS or (f.pos1 == "動詞" and f.pos2 == "非自立可能")))
    return out


def word_units(tokens: list[str], lang: str) -> tuple[set[int], set[int]]:
    """(edges, function starts) of tokens that may be parts of words (PAN-X's characters of zh and ja).

    edges: token positions where a word the language's tokenizer finds in the tokens' joined
    text starts or ends, the sentence's ends, and both edges of every token longer than a
    character (a token is never cut anyway). function starts: where a function word begins
    (particles, auxiliaries, suffixes), which a switched unit must not start on.
    """
    edges = {0, len(tokens)}
    at: dict[int, int] = {}  # character offset -> token starting there
    pos = 0
    for k, tok in enumerate(tokens):
        at[pos] = k
        if len(tok) > 1:
            edges.update((k, k + 1))
        pos += len(tok)
    at[pos] = len(tokens)
    text = "".join(tokens)
    if get_language(lang).tokenizer == "fugashi":
        words = _ja_words(text)
    else:
        words = [(w, w in _ZH_FUNCTION_WORDS) for w in word_tokenize(text, lang)]
    function: set[int] = set()
    pos = 0
    for word, is_function in words:
        start = text.find(word, pos)
        if start < 0:  # the tokenizer changed the text: no edges beyond this point
            break
        pos = start + len(word)
        if start in at and is_function:
            function.add(at[start])
        edges.update(at[offset] for offset in (start, pos) if offset in at)
    return edges, function


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
    """Tokenize raw text the way PAN-X does for `lang`: characters for zh/ja (`segment`'s 'auto'), Moses'
    tokens elsewhere. Written out rather than through `segment`, because `ner export` ships this function
    (with `char_tokenize`, `moses_tokenize` and the language table) to run without this toolkit."""
    if get_language(lang).char_tokenized:
        return char_tokenize(text)
    return moses_tokenize(text, lang)

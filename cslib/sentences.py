"""Sentence boundaries in raw text, as character spans, so that a paragraph is tagged sentence by sentence.

Rules in the spirit of Moses' and pySBD's splitters, one family per script (`split_sentences`):

- Space-separated scripts: a sentence ends after `.`, `!`, `?` or `…` (a run of them, then any closing
  quotes or brackets) when whitespace follows and the next sentence starts, after any opening quotes or
  brackets, with an upper-case letter, a digit or a letter of a script without case (Arabic, Devanagari,
  Hangul, ...). A lone period does not end a sentence after an abbreviation of the language (`Mr.`,
  `Dr.`, `Inc.`, `z.B.`), after letters joined by periods (`U.S.`, `e.g.`, `a.m.`), after a single
  letter (initials: `J. K. Rowling`), after an abbreviation that stands before numbers when a digit
  follows (`No. 5`, `p. 12`) and, in languages that write ordinals with a period (German `am 3.
  Oktober`), after a number of one or two digits. A decimal point (`3.5`) has no space after it and
  never ends a sentence. Danda, Arabic question mark and the like (`।`, `؟`, `۔`, `။`) end a sentence
  whenever whitespace follows.
- Chinese and Japanese: a sentence ends after `。`, `！`, `？` (full- and half-width forms; a
  half-width `!`/`?` only after a character that is not a Latin letter or digit, so `Yahoo!ニュース`
  stays whole; `．` not between digits), with the closing quotes and brackets that follow, except
  inside a title (`『君の名は。』`, `《你好！李焕英》`), inside quotation marks or brackets that close later
  (`「行きます。」と言った。` is one sentence), and before a particle or comma that continues the
  sentence after a closing quote (`」と`, `”，`). The space-separated rules apply as well (a Latin
  sentence inside Japanese text).
- Everywhere: a blank line (or U+2029) ends a sentence.

Doubtful cases are not split: a missed boundary only makes a sentence longer, a wrong one can cut an
entity in two. Spans exclude the whitespace around sentences; text without a boundary is one span.
"""

from __future__ import annotations

import re
from functools import cache

from .languages import get_language

# Abbreviations after which a period does not end a sentence, for every language (names and titles of
# English-language news occur everywhere) plus each language's own. An entry in lower case also matches
# capitalised (`approx` and `Approx`); a capitalised one only as written (`Sun`, not `sun`).
_COMMON = ("Mr Mrs Ms Messrs Dr Prof Sr Jr St Mt Ft Gen Col Lt Sgt Capt Cmdr Adm Maj Gov Sen Rep Rev Hon Pres "
           "Inc Ltd Co Corp Bros Plc Dept Univ Assn Ave Blvd Rd Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec "
           "Mon Tue Tues Wed Thu Thur Thurs Fri Sat Sun vs approx ca cf al Ph.D")
_BY_LANG = {
    "de": "Chr Dipl Fa Frl Hr Hrsg Jh Kap Mio Mrd Nr Str Tel bzw ca evtl ggf inkl max min sog std vgl",
    "fr": "Av Bd M MM Mme Mmes Mlle Mlles Me Mgr Pr env",
    "es": "Sr Sra Srta Dr Dra Dña Lic Ud Uds Av Avda pág núm",
    "nl": "Dhr Mevr Mw Drs Ir Ing bijv blz",
    "it": "Sig Sigg Dott Ing Avv On",
    "pt": "Sr Sra Srta Dr Dra Av",
    "ru": "им ул пр",
    "id": "Bpk Dr Drs Ir Jl Sdr",
}
# Abbreviations that do not end a sentence when a number follows (Moses' NUMERIC_ONLY prefixes).
_BEFORE_NUMBERS = frozenset("no nos nr art p pp vol fig figs ch sec tel op ed eds para".split())
# Languages that write ordinal numbers with a period (`3. Oktober`, `19. század`).
_ORDINAL_DOT = frozenset({"de", "et", "fi", "hu", "tr", "da", "no", "nb", "is", "cs", "sk", "sl", "hr", "lv"})

_TERMINATORS = ".!?…"
_STRONG = "।॥؟۔።။"  # end a sentence whenever whitespace follows
_CLOSERS = "\"'”’»›)]}」』）》〉】〕〗〙〛｝"
_OPENERS = "\"'“‘„‚«‹([{¿¡「『（《〈【〔〖〘〚｛"
_CJK_TERMINATORS = "。｡！？!?．"
_TITLES = {"『": "』", "《": "》", "〈": "〉", "【": "】"}  # never split inside
_QUOTES = {"「": "」", "“": "”", "‘": "’", "（": "）", "〔": "〕", "｛": "｝"}
_CONTINUES = frozenset("とっ、，,：:のをにがはもで")  # after a closing quote: the sentence goes on

_SPACED = re.compile(rf"([{re.escape(_TERMINATORS + _STRONG)}]+)([{re.escape(_CLOSERS)}]*)(?=\s)")
_CJK = re.compile(rf"([{re.escape(_CJK_TERMINATORS)}]+)([{re.escape(_CLOSERS)}]*)")
_BLOCK_BREAK = re.compile(r"(?:[^\S\n\r\u2028\u2029]*(?:\r\n|[\n\r\u2028])){2,}\s*|\s*\u2029\s*")
_DOTTED = re.compile(r"(?:[^\W\d_]{1,2}\.)+[^\W\d_]{1,2}")


@cache
def _abbreviations(lang: str) -> frozenset[str]:
    return frozenset(_COMMON.split()) | frozenset(_BY_LANG.get(lang, "").split())


def _is_abbreviation(word: str, lang: str) -> bool:
    known = _abbreviations(lang)
    return word in known or (word[:1].isupper() and word[:1].lower() + word[1:] in known)


def _starts_sentence(text: str, pos: int, end: int) -> bool:
    """Whether `text[pos:end]` (after whitespace) reads as a sentence's first word."""
    while pos < end and text[pos] in _OPENERS:
        pos += 1
    if pos >= end:
        return False
    c = text[pos]
    return c.isupper() or c.isdigit() or (c.isalpha() and not c.islower())


def _period_ends(text: str, start: int, dot: int, nxt: int, lang: str) -> bool:
    """Whether the lone period at `dot` ends a sentence, judged by the word before it (from `start`)."""
    i = dot
    while i > start and not text[i - 1].isspace():
        i -= 1
    word = text[i:dot].lstrip(_OPENERS)
    if not word:
        return True  # a period standing alone, as in tokenized text (`Paris .`)
    if _is_abbreviation(word, lang) or _DOTTED.fullmatch(word):
        return False
    if len(word) == 1 and word.isalpha():
        return False  # an initial
    if word.lower() in _BEFORE_NUMBERS and text[nxt].isdigit():
        return False
    return not (lang in _ORDINAL_DOT and word.isdigit() and len(word) <= 2)


def _spaced_boundaries(text: str, start: int, end: int, lang: str) -> set[int]:
    """Ends of sentences by the rules of space-separated scripts, inside `text[start:end]`."""
    out = set()
    for m in _SPACED.finditer(text, start, end):
        b = m.end()
        nxt = b
        while nxt < end and text[nxt].isspace():
            nxt += 1
        if nxt >= end:
            continue  # the block's end is a boundary anyway
        term = m.group(1)
        if any(c in _STRONG for c in term):
            out.add(b)
        elif _starts_sentence(text, nxt, end) and (term != "." or _period_ends(text, start, m.start(1), nxt, lang)):
            out.add(b)
    return out


def _pairs(text: str, start: int, end: int) -> list[tuple[int, int, bool]]:
    """Matched (opening, closing, is_title) bracket and quotation pairs of CJK punctuation."""
    closing = {**_TITLES, **_QUOTES}
    stack: list[int] = []
    pairs = []
    for i in range(start, end):
        c = text[i]
        if c in closing:
            stack.append(i)
        elif stack and c == closing[text[stack[-1]]]:
            o = stack.pop()
            pairs.append((o, i, text[o] in _TITLES))
        elif c in closing.values():
            # a closer that does not match the innermost opener: drop openers up to a matching one
            k = next((j for j in range(len(stack) - 1, -1, -1) if closing[text[stack[j]]] == c), None)
            if k is not None:
                pairs.append((stack[k], i, text[stack[k]] in _TITLES))
                del stack[k:]
    return pairs


def _cjk_boundaries(text: str, start: int, end: int) -> set[int]:
    """Ends of sentences at Chinese/Japanese sentence-final punctuation inside `text[start:end]`."""
    in_title = bytearray(end - start + 1)  # 1 inside a title
    in_quote = bytearray(end - start + 1)  # 1 at a position p with opening < p <= closing
    for o, c, title in _pairs(text, start, end):
        if title:
            in_title[o + 1 - start : c - start] = b"\x01" * (c - o - 1)
        in_quote[o + 1 - start : c + 1 - start] = b"\x01" * (c - o)
    out = set()
    for m in _CJK.finditer(text, start, end):
        t = m.start(1)
        term = m.group(1)
        if term[0] in "!?" and t > start and text[t - 1].isascii() and text[t - 1].isalnum():
            continue
        if term == "．" and t > start and m.end(1) < end and text[t - 1].isdigit() and text[m.end(1)].isdigit():
            continue
        b = m.end()
        if in_title[t - start] or in_quote[b - start]:
            continue  # inside a title, or inside a quotation that closes later
        if m.group(2) and b < end and text[b] in _CONTINUES:
            continue
        out.add(b)
    return out


def _blocks(text: str) -> list[tuple[int, int]]:
    """Spans of `text` between blank lines (and paragraph separators)."""
    out, pos = [], 0
    for m in _BLOCK_BREAK.finditer(text):
        out.append((pos, m.start()))
        pos = m.end()
    out.append((pos, len(text)))
    return out


def split_sentences(text: str, lang: str) -> list[tuple[int, int]]:
    """Character spans `(start, end)`, end-exclusive, of the sentences of `text` in language `lang`
    (see the module's rules), without the whitespace around them; `[]` for blank text."""
    cjk = get_language(lang).char_tokenized
    spans = []
    for start, end in _blocks(text):
        cuts = _spaced_boundaries(text, start, end, lang)
        if cjk:
            cuts |= _cjk_boundaries(text, start, end)
        pos = start
        for cut in [*sorted(cuts), end]:
            piece = text[pos:cut]
            if piece.strip():
                lead = len(piece) - len(piece.lstrip())
                spans.append((pos + lead, pos + len(piece.rstrip())))
            pos = cut
    return spans

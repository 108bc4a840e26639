"""English names written by sound in the target's script, by rule (no model, no download).

A name that no dictionary knows is read as English spelling → sound units (`sounds`: a few
dozen rules, "Washington" → w a sh i n g t o n) → the target's letters (`write`): per-letter
tables for the alphabets (Cyrillic, Georgian, Greek, Hebrew) and the ITRANS scheme of
`indic-transliteration` for the Brahmic scripts, Burmese and Urdu, which it writes with the
script's own conjuncts and vowel signs. English spelling is not phonetic, so the result is an
approximation of how the target writes the name (Berlin → Берлин, Washington → Вашингтон, but
Paris → Парис, not Париж); what it gives a model is the name in the target's script, the way
the target's own text shows it. ja and zh are written by e2k instead (`transliterate`).
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

# Sound units: vowels a e i o u; consonants below (two letters where English spells one sound).
VOWELS = frozenset("aeiou")
_DIGRAPHS = {  # longest first at each position
    "tch": ["ch"], "sch": ["sh"], "sh": ["sh"], "ch": ["ch"], "ph": ["f"], "th": ["th"], "ck": ["k"],
    "gh": [], "wh": ["w"], "qu": ["k", "v"], "kh": ["kh"], "zh": ["zh"], "ts": ["ts"], "tz": ["ts"],
    "ee": ["i"], "ea": ["i"], "oo": ["u"], "ou": ["u"], "ai": ["e"], "ay": ["e"], "ey": ["e", "i"],
    "oa": ["o"], "au": ["o"], "aw": ["o"], "ie": ["i"], "ue": ["u"], "oe": ["o"], "ei": ["e", "i"],
    "oy": ["o", "i"], "oi": ["o", "i"], "ew": ["y", "u"], "ow": ["o"], "dg": ["j"],
}
_SUFFIXES = {"tion": ["sh", "o", "n"], "sion": ["sh", "o", "n"]}
_START = {"kn": ["n"], "wr": ["r"], "ps": ["s"], "x": ["z"], "gn": ["n"]}
_SOFT = frozenset("eiy")  # c and g before these read s and j


def sounds(word: str) -> list[str]:
    """The sound units of an English word (letters only; the caller keeps digits), by rule."""
    w = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if "a" <= c <= "z")
    if len(w) > 3 and w.endswith("e") and w[-2] not in VOWELS and any(c in VOWELS for c in w[:-2]):
        w = w[:-2] + {"c": "s", "g": "j"}.get(w[-2], w[-2])  # silent final e: Rome, France, George
    if len(w) > 2 and w.endswith("h") and w[-2] in VOWELS:
        w = w[:-1]  # Sarah, Utah
    out: list[str] = []
    i = 0
    while i < len(w):
        rest = w[i:]
        got = None
        if i == 0:
            got = next(((k, v) for k, v in _START.items() if rest.startswith(k)), None)
        if got is None and rest[:4] in _SUFFIXES and rest[4:] in ("", "s"):
            got = (rest[:4], _SUFFIXES[rest[:4]])
        if got is None:
            got = next(((k, v) for k, v in _DIGRAPHS.items() if rest.startswith(k)), None)
        if got is not None:
            out += got[1]
            i += len(got[0])
            continue
        c = w[i]
        nxt = w[i + 1] if i + 1 < len(w) else ""
        if c == nxt and c not in VOWELS:  # double consonants sound once
            i += 1
            continue
        if c == "c":
            out.append("s" if nxt in _SOFT else "k")
        elif c == "g":
            out.append("j" if nxt in _SOFT else "g")
        elif c == "x":
            out += ["k", "s"]
        elif c == "q":
            out.append("k")
        elif c == "y":
            out.append("y" if (i == 0 and nxt in VOWELS) else "i")
        elif c == "w" and not nxt:
            out.append("u")
        else:
            out.append(c)
        i += 1
    return out


class Alphabet:
    """Sound units → letters of an alphabet: one table, and the few rules of context it needs."""

    def __init__(self, letters: dict[str, str], initial: dict[str, str] | None = None,
                 final: dict[str, str] | None = None, y_vowel: dict[str, str] | None = None,
                 end: str = "", drop_vowels: bool = False, cased: bool = False) -> None:
        self.letters = letters
        self.initial = initial or {}  # a unit's letter at the start of the word
        self.final = final or {}  # a letter's form at the end of the word (Greek ς, Hebrew ם)
        self.y_vowel = y_vowel or {}  # y + vowel as one letter (Cyrillic я, ю)
        self.end = end  # added after a final consonant (Georgian -ი)
        self.drop_vowels = drop_vowels  # an abjad: short vowels unwritten inside the word
        self.cased = cased  # names start with a capital (Cyrillic, Greek; not Georgian's Mtavruli)

    def write(self, units: list[str], capital: bool = False) -> str:
        out: list[str] = []
        i = 0
        while i < len(units):
            u = units[i]
            nxt = units[i + 1] if i + 1 < len(units) else None
            if u == "y" and nxt in self.y_vowel:
                out.append(self.y_vowel[nxt])
                i += 2
                continue
            if self.drop_vowels and u in ("a", "e") and 0 < i < len(units) - 1:
                i += 1
                continue
            out.append(self.initial.get(u, self.letters[u]) if i == 0 else self.letters[u])
            i += 1
        text = "".join(out)
        if self.end and units and units[-1] not in VOWELS:
            text += self.end
        if text and text[-1] in self.final:
            text = text[:-1] + self.final[text[-1]]
        return text[:1].upper() + text[1:] if capital and self.cased else text


_CYRILLIC = Alphabet(
    {"a": "а", "e": "е", "i": "и", "o": "о", "u": "у", "b": "б", "ch": "ч", "d": "д", "f": "ф", "g": "г",
     "h": "х", "j": "дж", "k": "к", "kh": "х", "l": "л", "m": "м", "n": "н", "p": "п", "r": "р", "s": "с",
     "sh": "ш", "t": "т", "th": "т", "ts": "ц", "v": "в", "w": "в", "y": "й", "z": "з", "zh": "ж"},
    initial={"e": "э"}, y_vowel={"a": "я", "u": "ю", "e": "е", "o": "йо"}, cased=True)
_BULGARIAN = Alphabet(_CYRILLIC.letters, initial={"e": "е"}, y_vowel={"a": "я", "u": "ю", "e": "йе", "o": "йо"},
                      cased=True)
_GEORGIAN = Alphabet(
    {"a": "ა", "e": "ე", "i": "ი", "o": "ო", "u": "უ", "b": "ბ", "ch": "ჩ", "d": "დ", "f": "ფ", "g": "გ",
     "h": "ჰ", "j": "ჯ", "k": "კ", "kh": "ხ", "l": "ლ", "m": "მ", "n": "ნ", "p": "პ", "r": "რ", "s": "ს",
     "sh": "შ", "t": "ტ", "th": "თ", "ts": "ც", "v": "ვ", "w": "ვ", "y": "ი", "z": "ზ", "zh": "ჟ"},
    end="ი")  # Georgian names take the nominative -ი after a consonant: Berlin → ბერლინი
_GREEK = Alphabet(
    {"a": "α", "e": "ε", "i": "ι", "o": "ο", "u": "ου", "b": "μπ", "ch": "τσ", "d": "ντ", "f": "φ", "g": "γκ",
     "h": "χ", "j": "τζ", "k": "κ", "kh": "χ", "l": "λ", "m": "μ", "n": "ν", "p": "π", "r": "ρ", "s": "σ",
     "sh": "σ", "t": "τ", "th": "θ", "ts": "τσ", "v": "β", "w": "ου", "y": "γι", "z": "ζ", "zh": "ζ"},
    final={"σ": "ς"}, cased=True)
_HEBREW = Alphabet(
    {"a": "א", "e": "א", "i": "י", "o": "ו", "u": "ו", "b": "ב", "ch": "צ'", "d": "ד", "f": "פ", "g": "ג",
     "h": "ה", "j": "ג'", "k": "ק", "kh": "ח", "l": "ל", "m": "מ", "n": "נ", "p": "פ", "r": "ר", "s": "ס",
     "sh": "ש", "t": "ט", "th": "ת", "ts": "צ", "v": "ו", "w": "ו", "y": "י", "z": "ז", "zh": "ז'"},
    final={"מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"}, drop_vowels=True)

# Sound units → ITRANS (English t/d are read retroflex in Indic loans: T, D). f, z and kh have
# letters of their own (with nukta) only in some scripts; elsewhere they are read ph, j and kh.
_ITRANS = {"a": "a", "e": "e", "i": "i", "o": "o", "u": "u", "b": "b", "ch": "ch", "d": "D", "f": "ph",
           "g": "g", "h": "h", "j": "j", "k": "k", "kh": "kh", "l": "l", "m": "m", "n": "n", "p": "p",
           "r": "r", "s": "s", "sh": "sh", "t": "T", "th": "th", "ts": "ts", "v": "v", "w": "v", "y": "y",
           "z": "j", "zh": "j"}
_NUKTA = {"f": "f", "z": "z", "zh": "z", "kh": "K"}
# Dravidian scripts keep a final virama (Telugu బెర్లిన్); the others drop it (Hindi बर्लिन);
# Malayalam writes a final n, l, r with its chillu letter.
_CHILLU = {"ന്": "ൻ", "ല്": "ൽ", "ര്": "ർ", "ള്": "ൾ", "ണ്": "ൺ"}
_HARAKAT = re.compile("[\u064b-\u065f\u0670]")  # Urdu leaves short vowels unwritten
_LATIN = re.compile("[A-Za-z]")


def _indic(script: str, keep_virama: bool, after: Callable[[str], str] = lambda s: s,
           **override: str) -> Callable[[list[str], bool], str | None]:
    table = {**_ITRANS, **override}

    def write(units: list[str], capital: bool = False) -> str | None:
        from indic_transliteration import sanscript

        text = sanscript.transliterate("".join(table[u] for u in units), sanscript.ITRANS, script)
        if not keep_virama and text and unicodedata.name(text[-1], "").endswith("SIGN VIRAMA"):
            text = text[:-1]
        text = after(text)
        return None if _LATIN.search(text) else text  # a unit the scheme has no letter for
    return write


def _malayalam(text: str) -> str:
    return text[:-2] + _CHILLU[text[-2:]] if text[-2:] in _CHILLU else text


def _urdu(text: str) -> str:
    text = _HARAKAT.sub("", text)
    return text[:-1].replace("ے", "ی") + text[-1:]  # bari ye only ends a word


WRITERS: dict[str, Callable[[list[str], bool], str | None]] = {
    "ru": _CYRILLIC.write, "kk": _CYRILLIC.write, "bg": _BULGARIAN.write, "ka": _GEORGIAN.write,
    "el": _GREEK.write, "he": _HEBREW.write,
    "hi": _indic("devanagari", False, **_NUKTA), "mr": _indic("devanagari", False, **_NUKTA),
    "bn": _indic("bengali", False, **_NUKTA), "ta": _indic("tamil", True, f="f"), "te": _indic("telugu", True),
    "ml": _indic("malayalam", True, _malayalam), "my": _indic("burmese", True, sh="s"),
    "ur": _indic("urdu", False, _urdu, **_NUKTA),
}
NEEDS_PACKAGE = frozenset({"hi", "mr", "bn", "ta", "te", "ml", "my", "ur"})  # indic-transliteration
SOUND_LANGS = tuple(sorted(WRITERS))


def available(tgt_lang: str) -> bool:
    """Whether English names can be written in `tgt_lang`'s script here."""
    if tgt_lang not in WRITERS:
        return False
    return tgt_lang not in NEEDS_PACKAGE or importlib.util.find_spec("indic_transliteration") is not None


_RUNS = re.compile(r"([A-Za-z]+|\d+)")


class RuleWriter:
    """What a name writer that needs no model shares: the calls of `transliterate.Transliterator`
    that batch and cache a model's work, here with nothing to do."""

    origin = ""

    def word(self, word: str) -> str | None:
        raise NotImplementedError

    def prefetch(self, words: Iterable[str], workers: int = 1) -> int:
        return 0

    def all_cached(self, words: Iterable[str]) -> bool:
        return True

    def flush(self) -> None:
        pass


class SoundTransliterator(RuleWriter):
    """English word → the target's script by rule (module docstring)."""

    origin = "translit"

    def __init__(self, tgt_lang: str) -> None:
        if tgt_lang not in WRITERS:
            raise ValueError(f"no sound transliteration for {tgt_lang!r} (have: {', '.join(SOUND_LANGS)})")
        self.tgt = tgt_lang
        self._write = WRITERS[tgt_lang]
        self.word = lru_cache(maxsize=300_000)(self._word)

    def _word(self, word: str) -> str | None:
        folded = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
        pieces = [p for p in _RUNS.findall(folded)]
        if not any(p.isalpha() for p in pieces):
            return None
        out = []
        for p in pieces:
            if p.isdigit():
                out.append(p)
                continue
            units = sounds(p)
            if not units:
                continue
            text = self._write(units, p[0].isupper())
            if text is None:
                return None
            out.append(text)
        return "".join(out) or None


class LatinNames(RuleWriter):
    """Names into a Latin-script target: written as they are (Nairobi stays Nairobi), so that an
    entity whose other words have translations is switched with its names kept ("University of
    Nairobi" → "Chuo Kikuu of Nairobi"); origin "kept", which alone never counts as a switch."""

    origin = "kept"

    def __init__(self, tgt_lang: str) -> None:
        self.tgt = tgt_lang

    def word(self, word: str) -> str | None:
        return word if any(c.isalpha() for c in word) else None

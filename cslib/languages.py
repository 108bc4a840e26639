"""Language codes the toolkit knows, and how each one is tokenized.

PAN-X uses ISO 639-1 codes; Tatoeba (LASER) uses ISO 639-3. Keeping the table here
means an unknown code fails early with one clear line instead of deep in a reader.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CslibError


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    tokenizer: str  # "jieba" | "fugashi" | "moses"
    iso3: str | None = None  # Tatoeba code when the mirror has pairs for it
    latin: bool = True  # written in Latin script (affects which dictionary targets are kept)

    @property
    def char_tokenized(self) -> bool:
        """PAN-X splits zh and ja into characters (as XTREME does)."""
        return self.tokenizer in ("jieba", "fugashi")


_TABLE = [
    ("en", "English", "moses", "eng", True), ("de", "German", "moses", "deu", True),
    ("es", "Spanish", "moses", "spa", True), ("nl", "Dutch", "moses", "nld", True),
    ("fr", "French", "moses", "fra", True), ("zh", "Chinese", "jieba", "cmn", False),
    ("ja", "Japanese", "fugashi", "jpn", False), ("id", "Indonesian", "moses", "ind", True),
    ("ar", "Arabic", "moses", "ara", False), ("hi", "Hindi", "moses", "hin", False),
    ("ru", "Russian", "moses", "rus", False), ("af", "Afrikaans", "moses", None, True),
    ("bg", "Bulgarian", "moses", None, False), ("bn", "Bengali", "moses", None, False),
    ("el", "Greek", "moses", None, False), ("et", "Estonian", "moses", None, True),
    ("eu", "Basque", "moses", "eus", True), ("fa", "Persian", "moses", None, False),
    ("fi", "Finnish", "moses", None, True), ("he", "Hebrew", "moses", None, False),
    ("hu", "Hungarian", "moses", None, True), ("it", "Italian", "moses", None, True),
    ("jv", "Javanese", "moses", "jav", True), ("ka", "Georgian", "moses", "kat", False),
    ("kk", "Kazakh", "moses", "kaz", False), ("ko", "Korean", "moses", None, False),
    ("ml", "Malayalam", "moses", "mal", False), ("mr", "Marathi", "moses", "mar", False),
    ("ms", "Malay", "moses", None, True), ("my", "Burmese", "moses", None, False),
    ("pt", "Portuguese", "moses", None, True), ("sw", "Swahili", "moses", "swh", True),
    ("ta", "Tamil", "moses", None, False), ("te", "Telugu", "moses", "tel", False),
    ("th", "Thai", "moses", None, False), ("tl", "Tagalog", "moses", None, True),
    ("tr", "Turkish", "moses", None, True), ("ur", "Urdu", "moses", "urd", False),
    ("vi", "Vietnamese", "moses", None, True), ("yo", "Yoruba", "moses", None, True),
]

LANGUAGES: dict[str, Language] = {
    code: Language(code, name, tok, iso3, latin) for code, name, tok, iso3, latin in _TABLE
}


def get_language(code: str) -> Language:
    """Look a code up, failing with the list of known codes."""
    lang = LANGUAGES.get(code)
    if lang is None:
        known = " ".join(sorted(LANGUAGES))
        raise CslibError(f"unknown language code {code!r} (known: {known})")
    return lang

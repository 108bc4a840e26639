"""Keys of source phrases in languages written without spaces (zh, ja).

PAN-X gives zh and ja sentences one character per token, raw text gives words, and a
dictionary knows words: keyed by the phrase's text with no spaces, an entry matches whatever
the tokenization, as the concatenation of the tokens it spans. Case is folded (full-width
Latin in ja text) and Chinese is folded to Simplified character by character (PAN-X zh mixes
both scripts, MUSE en-zh is Traditional, CC-CEDICT Simplified), so 國際 and 国际 meet; a
character OpenCC would not map to exactly one character is kept as it is.
"""

from __future__ import annotations

from functools import lru_cache

from .dictionary_sources import MissingPackageError
from .script import to_simplified


@lru_cache(maxsize=1 << 16)
def _simplified(char: str) -> str:
    try:
        out = to_simplified(char)
    except MissingPackageError:  # no OpenCC: the scripts stay apart
        return char
    return out if len(out) == 1 else char


def joined_key(text: str, lang: str) -> str:
    """The key of a phrase (or of one token) of a language written without spaces."""
    text = "".join(c.lower() for c in text if not c.isspace())  # per character: tokens join up to phrases
    if lang == "zh":
        return "".join(_simplified(c) for c in text)
    return text

"""Chinese script of switched text: Simplified, Traditional or both (OpenCC).

MUSE en-zh is Traditional, CC-CEDICT gives Simplified, PAN-X zh mixes both. The dictionary's
targets are converted to one script (so MUSE's 國際 and CC-CEDICT's 国际 become one entry);
with "both", each code-switched row draws one script for all its inserted text, so a row
never mixes 麥克斯韋 and 麦克斯韦 the way a per-word choice would.
"""

from __future__ import annotations

from functools import lru_cache

from .dictionary_sources import MissingPackageError

ZH_SCRIPTS = ("simplified", "traditional", "both", "keep")
# PAN-X train-zh (20,000 sentences, measured with `script_mix`): 56% of its script-specific
# characters are Traditional-only and 44% Simplified-only (dev: 55/45; 50% of the train
# sentences hold a Traditional-only character, 39% a Simplified-only one): the default gives both.
DEFAULT_ZH_SCRIPT = "both"


@lru_cache(maxsize=4)
def _converter(config: str):
    try:
        import opencc
    except ImportError:
        raise MissingPackageError("--zh-script needs the Python package 'opencc', which is not installed: "
                                  "pip install opencc") from None
    return opencc.OpenCC(config)


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text)


def to_traditional(text: str) -> str:
    return _converter("s2t").convert(text)


def dictionary_script(script: str) -> str:
    """The one script a build's dictionary is converted to; "both" converts per row at switch time."""
    return "traditional" if script == "traditional" else "simplified"


def variants(text: str, script: str) -> list[str]:
    """The forms of `text` to offer in `script` (one, or Simplified and Traditional when they differ)."""
    if script == "keep":
        return [text]
    if script == "simplified":
        return [to_simplified(text)]
    if script == "traditional":
        return [to_traditional(text)]
    if script == "both":
        s, t = to_simplified(text), to_traditional(text)
        return [s] if s == t else [s, t]
    raise ValueError(f"unknown Chinese script {script!r} (expected one of {', '.join(ZH_SCRIPTS)})")


def script_mix(texts: list[str]) -> dict[str, float]:
    """Share of script-specific characters that are Simplified-only vs Traditional-only.

    A character is Traditional-only when Traditional→Simplified conversion changes it, and
    Simplified-only when Simplified→Traditional does; shared characters are not counted.
    """
    chars: dict[str, int] = {}
    for t in texts:
        for c in t:
            if "\u3400" <= c <= "\u9fff":
                chars[c] = chars.get(c, 0) + 1
    trad = sum(n for c, n in chars.items() if to_simplified(c) != c)
    simp = sum(n for c, n in chars.items() if to_traditional(c) != c)
    total = max(1, trad + simp)
    return {"traditional": round(trad / total, 4), "simplified": round(simp / total, 4),
            "script_specific_chars": trad + simp}

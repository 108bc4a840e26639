"""Which way a build's translations run, given that every resource of the mirror pairs a language with English.

- forward (en→X): MUSE en-X, JMdict/CC-CEDICT and typed names as they are, or Tatoeba aligned;
- inverse (X→en): the same resources read the other way round (MUSE en-X inverted, JMdict and
  CC-CEDICT ranked per X word, JMnedict/CC-CEDICT names keyed by their X spelling, Tatoeba with
  its sides swapped);
- pivot (X→Y, neither English): an X→en dictionary composed with an en→Y one (`pivot`), each
  leg built as above, with its own mode; no typed names, no parallel text;
- direct: the user's own X→Y dictionary (--dictionary) or parallel text (--parallel).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..corpora import has_muse
from ..errors import CslibError
from ..languages import get_language
from ..manifests import load_manifest

DIRECTIONS = ("forward", "inverse", "pivot", "direct")
PIVOT = "en"


def direction(cfg: Any) -> str:
    """forward, inverse, pivot or direct (module docstring) for a build's options."""
    if cfg.src == PIVOT:
        return "forward"
    if cfg.dictionary or cfg.parallel:
        return "direct"
    return "inverse" if cfg.tgt == PIVOT else "pivot"


def legs(cfg: Any) -> tuple[Any, Any]:
    """The X→en and en→Y options of a pivot build (`cfg` a dataclass such as `cslib.BuildConfig`)."""
    return replace(cfg, tgt=PIVOT), replace(cfg, src=PIVOT)


def has_dictionary(src: str, tgt: str) -> bool:
    """Whether the manifests hold a MUSE dictionary serving src→tgt (en-X, read either way)."""
    return has_muse(src, tgt) or (tgt == PIVOT and has_muse(tgt, src))


def has_parallel(src: str, tgt: str) -> bool:
    """Whether the manifests hold Tatoeba pairs for src-tgt (English-X, read either way)."""
    other = tgt if src == PIVOT else src if tgt == PIVOT else None
    iso3 = get_language(other).iso3 if other else None
    if not iso3:
        return False
    try:
        load_manifest("tatoeba", f"{iso3}-eng")
    except CslibError:
        return False
    return True


def resolved_mode(cfg: Any) -> str:
    """`auto` → dict when there is a dictionary for the pair, else align (Tatoeba or --parallel),
    else induce (en→X with unlabeled PAN-X text of X: a lexicon induced by the encoder, `induce`);
    a pivot build is dict, align or dict+align after its legs."""
    if cfg.mode != "auto":
        return cfg.mode
    if direction(cfg) == "pivot":
        modes = sorted({resolved_mode(leg) for leg in legs(cfg)})
        return modes[0] if len(modes) == 1 else "dict+align"
    if cfg.dictionary or has_dictionary(cfg.src, cfg.tgt) or cfg.extra_dicts:
        return "dict"
    if cfg.parallel or has_parallel(cfg.src, cfg.tgt):
        return "align"
    if cfg.src == PIVOT and (has_text(cfg.tgt) or getattr(cfg, "induce_text", None)):
        return "induce"
    return "dict"  # build_dictionary says what is missing


def has_text(lang: str) -> bool:
    """Whether the manifests hold unlabeled text of `lang` to induce a lexicon from (PAN-X train)."""
    try:
        return "train" in load_manifest("panx", lang).files
    except CslibError:
        return False

